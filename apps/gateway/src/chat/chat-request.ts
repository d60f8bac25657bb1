import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';

export const CHAT_PATH = '/v1/chat/completions';

/** A chat completions request as it arrived: its id, headers and parsed body. */
export interface ChatRequest {
  readonly requestId: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when the request did not say it is JSON. */
  readonly body: unknown;
  /** Whether its Content-Type is `application/json` (otherwise a 415 once the caller is authenticated). */
  readonly json: boolean;
}

/** The chat request of one that came through Express (its request id middleware and JSON parser). */
export function chatRequestFromExpress(req: Request, res: Response): ChatRequest {
  return { requestId: res.locals.requestId as string, headers: req.headers, body: req.body as unknown, json: Boolean(req.is('application/json')) };
}
