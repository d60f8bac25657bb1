import cluster from 'node:cluster';
import type { GatewayConfig } from '@tokenhub/config';
import { buildDataSourceOptions } from '@tokenhub/store';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { serveClusterMetrics } from './metrics/metrics-cluster';

/** A worker that dies this soon after its start is not restarted again (a crash loop). */
const CRASH_LOOP_MS = 5_000;

/**
 * V8's young generation sized for a server: a request's objects are short-lived, and with
 * 32 MB semi-spaces (16 by default) far fewer of them are still alive, and copied, when a
 * scavenge runs. `npm start` and the container image pass it too; an operator's own
 * `--max-semi-space-size` (on the command line or in NODE_OPTIONS) wins.
 */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=32';

/** The workers' Node flags: the primary's, with the young generation's size unless it was set. */
export function workerExecArgv(execArgv: string[], nodeOptions = ''): string[] {
  const set = [...execArgv, nodeOptions].some((arg) => arg.includes('--max-semi-space-size'));
  return set ? execArgv : [...execArgv, YOUNG_GENERATION_FLAG];
}

/**
 * The cluster primary: runs the migrations once, forks `workers` gateway processes that
 * share the listening port (Node's cluster round-robin), restarts a worker that dies, and
 * on SIGTERM/SIGINT passes the signal on and exits when every worker has drained and
 * flushed. Limits stay exact across workers because their counters live in Postgres or
 * Redis, not in a process.
 */
export async function runPrimary(config: GatewayConfig, workers: number, logger: Logger): Promise<void> {
  if (config.migrationsRun) await runMigrations(config);
  let stopping = false;
  const started = new Map<number, number>();
  const fork = () => {
    const worker = cluster.fork({ DB_MIGRATIONS_RUN: 'false' });
    started.set(worker.id, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const uptime = Date.now() - (started.get(worker.id) ?? 0);
    started.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited');
    if (uptime < CRASH_LOOP_MS) {
      logger.fatal('a worker died during its start: not restarting; fix the error above');
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  serveClusterMetrics();
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers, pid: process.pid }, `TokenHub primary started ${workers} workers`);
}

/** In a worker: when the primary is gone (killed), drain and exit rather than linger. */
export function exitWithPrimary(): void {
  if (!cluster.isWorker) return;
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

async function runMigrations(config: GatewayConfig): Promise<void> {
  const source = new DataSource(buildDataSourceOptions({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrationsRun: false }));
  await source.initialize();
  try {
    await source.runMigrations({ transaction: 'each' });
  } finally {
    await source.destroy();
  }
}

/** `WORKERS`, or one per core; the embedded store is one process's, so it always runs one. */
export function workerCount(config: GatewayConfig, cores: number): number {
  if (!config.databaseUrl) return 1;
  return config.workers ?? cores;
}
