import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Paths never written to a log line: keys, tokens and provider secrets. */
export const REDACTED_PATHS = [
  'authorization',
  'apiKey',
  'api_key',
  'key',
  'token',
  '*.authorization',
  '*.apiKey',
  '*.api_key',
  '*.key',
  '*.token',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
];

/** The JSON logger; `destination` (stdout by default) lets tests read what would be logged. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'tokenhub' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Routes Nest's own log lines into the same structured JSON log. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
