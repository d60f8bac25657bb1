import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Fields that hold a secret wherever they appear: keys, tokens and provider credentials. */
const SECRET_FIELDS = [
  'authorization',
  'apiKey',
  'api_key',
  'key',
  'token',
  'secret',
  'password',
  'accessToken',
  'access_token',
  'secretAccessKey',
  'sessionToken',
  'privateKey',
  'private_key',
  'clientSecret',
  'client_secret',
  'encryptionKey',
  'adminKey',
  'metricsToken',
];
/** Request and upstream headers that carry credentials (OpenAI, Azure, Anthropic, Gemini, cookies, AWS). */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'x-goog-api-key', 'cookie', 'set-cookie', 'x-amz-security-token'];

/** Paths never written to a log line: at the top level, one level down, and in headers wherever they are. */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...['headers', '*.headers'].flatMap((h) => SECRET_HEADERS.map((name) => `${h}["${name}"]`)),
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
