import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { isPlainJsonRequest, readJsonBody } from '@tokenhub/common';
import { CHAT_PATH, ChatRequest } from './chat-request';

export interface ChatRoute {
  /** Serves a request whose body was read. */
  serve(req: ChatRequest, res: ServerResponse): void;
  /** Answers (and records) a request whose body could not be read. */
  reject(req: Pick<ChatRequest, 'requestId' | 'headers'>, res: ServerResponse, err: unknown): void;
}

/**
 * The HTTP server's request listener: `POST /v1/chat/completions` with a plain JSON body (the
 * requests SDKs send) is read and handed to `route` straight off node:http, without Express's
 * layers (its router, body parser and response helpers took about a quarter of a request's CPU).
 * Every other request goes to `next` (Express), whose JSON parser also takes the chat requests
 * this does not (compressed bodies, another charset) to the same route, with the same answers.
 */
export function chatListener(route: ChatRoute, bodyLimitBytes: number, next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || req.url !== CHAT_PATH || !isPlainJsonRequest(req.headers)) return next(req, res);
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    readJsonBody(req, bodyLimitBytes, (err, body) => {
      if (err) route.reject({ requestId, headers: req.headers }, res, err);
      else route.serve({ requestId, headers: req.headers, body, json: true }, res);
    });
  };
}
