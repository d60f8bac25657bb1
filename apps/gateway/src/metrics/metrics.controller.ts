import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { AuthenticationError } from '@tokenhub/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import type { Response } from 'express';
import { hashSecret, sameHash } from '../auth/secrets';
import { MetricsService } from './metrics.service';

/**
 * `GET /metrics`, the Prometheus text format. Open unless `METRICS_TOKEN` is set, then it
 * asks for `Authorization: Bearer <METRICS_TOKEN>` (Prometheus `authorization` in the scrape config).
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  private readonly tokenHash?: string;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly metrics: MetricsService,
  ) {
    this.tokenHash = config.metricsToken ? hashSecret(config.metricsToken) : undefined;
  }

  @Get()
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    if (this.tokenHash && !sameHash(hashSecret(authorization?.replace(/^Bearer\s+/i, '') ?? ''), this.tokenHash)) {
      throw new AuthenticationError('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.', 'invalid_metrics_token');
    }
    const text = await this.metrics.scrape();
    res.status(200).setHeader('content-type', this.metrics.contentType).end(text);
  }
}
