import { randomUUID } from 'node:crypto';
import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { firstValidationProblem, InvalidRequestError, OpenAIExceptionFilter, PinoNestLogger } from '@tokenhub/common';
import type { GatewayConfig } from '@tokenhub/config';
import express, { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { ChatService } from './chat/chat.service';

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
  app.use(express.json({ limit: config.bodyLimit }));
  // Body parser failures (bad JSON, too large, bad charset) are answered OpenAI-shaped,
  // and on the chat endpoint they are recorded like any other request.
  const chat = app.get(ChatService);
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (req.path === CHAT_PATH) void chat.reject(req, res, err);
    else next(err);
  });

  app.useGlobalFilters(new OpenAIExceptionFilter(logger));
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      transform: true,
      exceptionFactory: (errors) => {
        const problem = firstValidationProblem(errors);
        return new InvalidRequestError(problem?.message ?? 'Invalid request.', problem?.param ?? null, 'invalid_value');
      },
    }),
  );
  if (config.docsEnabled) setupSwagger(app);
  return app;
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
