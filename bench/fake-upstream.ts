/**
 * The fake OpenAI upstream in a process of its own, so it does not share an event loop
 * with the load generator or the gateway. Usage: `node --import tsx bench/fake-upstream.ts [port]`.
 * Prints `FAKE_URL=http://127.0.0.1:PORT/v1` once listening; stops on SIGTERM/SIGINT.
 */
import { FakeOpenAI } from '../test/fakes/fake-openai';

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 0);
  const fake = new FakeOpenAI();
  const url = await fake.start(Number.isInteger(port) ? port : 0);

  // The fake keeps every request for tests to inspect; under load that is a growing
  // heap and GC work the benchmark should not measure, so drop them regularly.
  const trim = setInterval(() => {
    fake.requests.length = 0;
    fake.abandonedStreams.length = 0;
  }, 500);
  trim.unref();

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(trim);
    const force = setTimeout(() => process.exit(0), 3_000);
    force.unref();
    void fake.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // If the runner dies without signalling, the closed IPC-less stdin tells us.
  process.stdin.on('end', stop);
  process.stdin.resume();

  process.stdout.write(`FAKE_URL=${url}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`fake upstream failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
