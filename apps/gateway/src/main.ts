import 'reflect-metadata';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createLogger } from '@tokenhub/common';
import { ConfigError, GatewayConfig, loadConfig } from '@tokenhub/config';
import { exitWithPrimary, runPrimary, workerCount } from './cluster';
import { createGatewayApp } from './create-app';
import { installGracefulShutdown } from './graceful-shutdown';

async function bootstrap(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const workers = workerCount(config, availableParallelism());
  if (cluster.isPrimary && workers > 1) return runPrimary(config, workers, logger);
  if (cluster.isPrimary && !config.databaseUrl && config.workers && config.workers > 1) {
    logger.warn('WORKERS is ignored on the embedded store: it belongs to one process. Set DATABASE_URL to run several workers.');
  }
  exitWithPrimary();
  const app = await createGatewayApp(config, logger);
  await app.listen(config.port, config.host);
  installGracefulShutdown(app, config.shutdownGraceMs, logger);
  logger.info(
    { port: config.port, store: config.databaseUrl ? 'postgres' : `embedded (${config.dataDir})`, providers: config.providers.map((p) => p.name), pid: process.pid },
    `TokenHub listening on http://localhost:${config.port} (docs at /docs)`,
  );
}

void bootstrap();
