import { GatewayError } from '@tokenhub/common';

/**
 * 503: the usage spool is full, so a new chat request could not be accounted for; it is
 * refused (before anything else, see `createGatewayApp`) rather than served unrecorded.
 */
export class LedgerFullError extends GatewayError {
  constructor() {
    super(503, 'The usage ledger cannot take more records until the database catches up; try again shortly.', 'server_error', 'ledger_full', null, { 'retry-after': '5' });
  }
}
