import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { ServiceUnavailableError } from '@tokenhub/common';
import { DataSource } from 'typeorm';
import { GovernanceService } from '../governance/governance.service';
import { UsageWriter } from '../usage/usage-writer.service';

/** The database gets this long to answer `SELECT 1` before it counts as down. */
const PING_TIMEOUT_MS = 2_000;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly usage: UsageWriter,
    private readonly governance: GovernanceService,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live() {
    return { status: 'ok' };
  }

  /**
   * 200 while the gateway can serve chat, `status` `ok` or `degraded` (the database does not
   * answer, usage records wait in the spool, or limits are decided in-process): every replica
   * shares the database, so a 503 there would take them all out of the load balancer at
   * once, while they can still serve keys they know. 503 only when new chat requests are
   * refused (the usage spool is full).
   */
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: ok, or degraded while the database is down (still serving known keys), with the usage ledger backlog' })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'degraded',
        database: 'down',
        limits: 'local',
        ledger: { buffered: 0, spool_bytes: 48213, spool_segments: 1, spool_max_bytes: 1073741824, accepting: true },
      },
    },
  })
  @ApiServiceUnavailableResponse({ description: 'The usage spool is full, so new chat requests are refused (OpenAI-shaped error, code `ledger_full`).' })
  async ready() {
    const database = (await this.databaseAnswers()) ? 'up' : 'down';
    const ledger = this.usage.state;
    const limits = this.governance.degradedSince === null ? 'store' : 'local';
    if (!ledger.accepting) {
      throw new ServiceUnavailableError(`The usage spool is full (${ledger.spoolBytes} bytes): chat requests are refused until the database takes the backlog.`, 'ledger_full');
    }
    const degraded = database === 'down' || ledger.databaseFailing || ledger.spoolBytes > 0 || limits === 'local';
    return {
      status: degraded ? 'degraded' : 'ok',
      database,
      limits,
      ledger: { buffered: ledger.buffered, spool_bytes: ledger.spoolBytes, spool_segments: ledger.spoolSegments, spool_max_bytes: ledger.spoolMaxBytes, accepting: ledger.accepting },
    };
  }

  private async databaseAnswers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), PING_TIMEOUT_MS))),
      ]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
