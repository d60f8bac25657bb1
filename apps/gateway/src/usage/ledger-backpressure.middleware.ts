import { Injectable, NestMiddleware } from '@nestjs/common';
import { GatewayError } from '@tokenhub/common';
import type { NextFunction, Request, Response } from 'express';
import { UsageWriter } from './usage-writer.service';

/** 503: the usage spool is full, so a new request could not be accounted for; it is refused rather than served unrecorded. */
export class LedgerFullError extends GatewayError {
  constructor() {
    super(503, 'The usage ledger cannot take more records until the database catches up; try again shortly.', 'server_error', 'ledger_full', null, { 'retry-after': '5' });
  }
}

/** Refuses new chat requests while the usage spool is full (see `UsageWriter`). */
@Injectable()
export class LedgerBackpressureMiddleware implements NestMiddleware {
  constructor(private readonly writer: UsageWriter) {}

  use(_req: Request, _res: Response, next: NextFunction): void {
    if (!this.writer.state.accepting) throw new LedgerFullError();
    next();
  }
}
