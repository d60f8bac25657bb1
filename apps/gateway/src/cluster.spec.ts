import { workerExecArgv, YOUNG_GENERATION_FLAG } from './cluster';

describe('workerExecArgv', () => {
  it('gives workers the young generation size, keeping the primary flags', () => {
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', YOUNG_GENERATION_FLAG]);
  });

  it("keeps the operator's own size, on the command line or in NODE_OPTIONS", () => {
    expect(workerExecArgv(['--max-semi-space-size=64'])).toEqual(['--max-semi-space-size=64']);
    expect(workerExecArgv([], '--max-old-space-size=2048 --max-semi-space-size=8')).toEqual([]);
  });
});
