import { randomUUID } from 'node:crypto';
import { IncomingMessage, RequestListener, Server, ServerResponse, STATUS_CODES } from 'node:http';
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
import { chatListener, ChatRoute } from './chat/chat-listener';
import { CHAT_PATH, chatRequestFromExpress } from './chat/chat-request';
import { ChatService } from './chat/chat.service';
import { LedgerFullError } from './usage/ledger-full.error';
import { UsageWriter } from './usage/usage-writer.service';

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
  app.use(express.json({ limit: config.bodyLimitBytes, verify: verifyUtf8 }));
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

  // The chat endpoint. ChatService does its own authentication, validation, errors and usage
  // record, so it is served ahead of Nest's router: plain JSON requests straight off node:http
  // (chatListener), the others (compressed, another charset, not JSON) through Express's parser.
  // A full usage spool refuses first: nothing is served that could not be recorded.
  // (ChatController describes the endpoint in the API docs.)
  const chat = app.get(ChatService);
  const ledger = app.get(UsageWriter);
  const route: ChatRoute = {
    serve: (req, res) => {
      if (!ledger.accepting) sendError(res, toErrorResponse(new LedgerFullError(), req.requestId, logger));
      else void chat.handle(req, res);
    },
    // Bad JSON, not UTF-8, too deep, too large, aborted: answered OpenAI-shaped, and recorded like any other request.
    reject: (req, res, err) => void chat.reject(req, res, err),
  };
  http.post(CHAT_PATH, (req: Request, res: Response) => route.serve(chatRequestFromExpress(req, res), res));
  // What fails above (the same as for chat, or NUL in an admin request) is answered OpenAI-shaped.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (req.path === CHAT_PATH) route.reject({ requestId: res.locals.requestId as string, headers: req.headers }, res, err);
    else sendError(res, toErrorResponse(err, res.locals.requestId as string, logger));
  });

  const server = app.getHttpServer() as Server;
  const expressListener = server.listeners('request')[0] as RequestListener;
  server.removeAllListeners('request');
  server.on('request', chatListener(route, config.bodyLimitBytes, expressListener));
  // An unknown `Expect` is ignored (RFC 9110 allows it) rather than answered by Node with a bare 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  server.on('clientError', answerClientError);

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
