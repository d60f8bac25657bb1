import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './harness';

/**
 * A Postgres server of the test's own (initdb + pg_ctl from the Debian Postgres 15
 * binaries) on a free port, so outage tests can stop and restart it without touching the
 * shared server other suites use. As root the binaries run as the `postgres` user.
 */
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

export class PrivatePostgres {
  readonly url: string;
  private running = false;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /** Whether the binaries are there to start one (the suite skips otherwise). */
  static async available(): Promise<boolean> {
    try {
      await run(join(BIN, 'pg_ctl'), ['--version']);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A fresh cluster, started. fsync is off (only the server process is ever killed, never
   * the machine, so the OS keeps what was written); synchronous_commit stays on, as an
   * immediate stop would otherwise lose commits a client was told about.
   */
  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'tokenhub-pg-'));
    chmodSync(dir, 0o777);
    const pg = new PrivatePostgres(dir, await closedPort());
    await pg.exec('initdb', ['-D', pg.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    await pg.startServer();
    return pg;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** Starts the server again (after `stop`) and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -h 127.0.0.1 -k ${this.dir} -c fsync=off -c full_page_writes=off -c max_connections=60`;
    await this.exec('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
    this.running = true;
  }

  /** Stops the server the hard way (`-m immediate`: connections are cut, nothing is flushed politely). */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
    this.running = false;
  }

  /** Stops the server and removes its files. */
  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const binary = join(BIN, tool);
    const asRoot = process.getuid?.() === 0;
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
    try {
      await run(file, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
  }
}
