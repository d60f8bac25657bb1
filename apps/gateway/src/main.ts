import 'reflect-metadata';
import { createLogger } from '@tokenhub/common';
import { ConfigError, loadConfig } from '@tokenhub/config';
import { createGatewayApp } from './create-app';
import { installGracefulShutdown } from './graceful-shutdown';

async function bootstrap(): Promise<void> {
  let config;
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
  const app = await createGatewayApp(config, logger);
  await app.listen(config.port, config.host);
  installGracefulShutdown(app, config.shutdownGraceMs, logger);
  logger.info(
    { port: config.port, store: config.databaseUrl ? 'postgres' : `embedded (${config.dataDir})`, providers: config.providers.map((p) => p.name) },
    `TokenHub listening on http://localhost:${config.port} (docs at /docs)`,
  );
}

void bootstrap();
