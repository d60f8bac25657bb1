import { randomUUID } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { checkJsonDepth, checkNoNul, firstValidationProblem, InvalidRequestError, OpenAIExceptionFilter, PinoNestLogger, safePlainToInstance, sendError, toErrorResponse, verifyUtf8 } from '@tokenhub/common';
import type { GatewayConfig } from '@tokenhub/config';
import { instanceToPlain } from 'class-transformer';
import express, { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { ChatService } from './chat/chat.service';
import { LedgerFullError } from './usage/ledger-full.error';
import { UsageWriter } from './usage/usage-writer.service';

export const CHAT_PATH = '/v1/chat/completions';

/** Builds the gateway, ready to `listen`; shared by `main.ts`, the e2e suite and the benchmark. */
export async function createGatewayApp(config: GatewayConfig, logger: Logger): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    bodyParser: false,
    logger: new PinoNestLogger(logger),
  });
  const http = app.getHttpAdapter().getInstance() as express.Express;
  http.disable('etag');
  http.disable('x-powered-by');

  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.locals.requestId = randomUUID();
    res.setHeader('x-request-id', res.locals.requestId as string);
    next();
  });
  // An unknown `Expect` is ignored (RFC 9110 allows it) rather than answered by Node with a bare 417.
  const server = app.getHttpServer() as Server;
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  server.on('clientError', answerClientError);
  app.use(express.json({ limit: config.bodyLimit, verify: verifyUtf8 }));
  // Express passes what this throws to the error handler below, like a body parser failure.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    checkJsonDepth(req.body);
    next();
  });
  // What the admin API stores or searches for goes to Postgres, whose text cannot hold NUL.
  app.use('/admin', (req: Request, _res: Response, next: NextFunction) => {
    checkNoNul(req.query, req.body);
    next();
  });
  // What fails above (bad JSON, not UTF-8, too deep, too large, bad charset, NUL in an admin request) is
  // answered OpenAI-shaped, and on the chat endpoint recorded like any other request.
  const chat = app.get(ChatService);
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (req.path === CHAT_PATH) void chat.reject(req, res, err);
    else sendError(res, toErrorResponse(err, res.locals.requestId as string, logger));
  });
  // The chat endpoint is answered here, ahead of Nest's router: ChatService does its own
  // authentication, validation, errors and usage record, so the router's layers would only
  // cost time on the hot path. (ChatController describes the endpoint in the API docs.)
  // A full usage spool refuses first: nothing is served that could not be recorded.
  const ledger = app.get(UsageWriter);
  http.post(CHAT_PATH, (req: Request, res: Response) => {
    if (!ledger.accepting) sendError(res, toErrorResponse(new LedgerFullError(), res.locals.requestId as string, logger));
    else void chat.handle(req, res);
  });

  app.useGlobalFilters(new OpenAIExceptionFilter(logger));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      transform: true,
      transformerPackage: { plainToInstance: safePlainToInstance, classToPlain: instanceToPlain },
      exceptionFactory: (errors) => {
        const problem = firstValidationProblem(errors);
        return new InvalidRequestError(problem?.message ?? 'Invalid request.', problem?.param ?? null, 'invalid_value');
      },
    }),
  );
  if (config.docsEnabled) setupSwagger(app);
  return app;
}

/**
 * A request Node cannot parse (headers over 16 KiB, malformed request line or headers) never
 * reaches Express: answered here, OpenAI-shaped, with the statuses Node itself would use.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers are larger than this server accepts.', 'request_headers_too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time.', 'request_timeout']
        : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? [413, 'The request body is larger than this server accepts.', 'request_too_large']
          : [400, 'The request is not valid HTTP.', 'invalid_http'];
  const { body } = toErrorResponse(new InvalidRequestError(message, null, code, status), undefined);
  const json = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
}

function setupSwagger(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('TokenHub')
      .setDescription(
        'An OpenAI-compatible LLM gateway. Send `Authorization: Bearer <key>`: a virtual key (`sk-bf-…`) for chat, the admin key for `/admin`. ' +
          'Every error is OpenAI-shaped: `{"error":{"message","type","param","code"}}`.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'API key', description: 'A virtual key (sk-bf-…) or the admin key' })
      .addServer('/')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', swaggerOptions: { persistAuthorization: true } });
}
