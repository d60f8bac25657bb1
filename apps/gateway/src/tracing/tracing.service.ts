import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import type { Logger } from 'pino';
import { LOGGER } from '../logging.tokens';
import { RequestTrace } from './request-trace';

/**
 * OpenTelemetry traces of chat requests, exported over OTLP/HTTP (JSON) in batches when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
 * (`OTEL_EXPORTER_OTLP_HEADERS` is read by the exporter). Without them nothing is set up and
 * `startRequest` returns null: no span objects, no context, no cost.
 */
@Injectable()
export class TracingService implements OnApplicationShutdown {
  private readonly provider?: BasicTracerProvider;
  private readonly tracer?: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    if (!config.tracing) return;
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.tracing.serviceName, 'process.pid': process.pid }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracing.tracesUrl }))],
    });
    this.tracer = this.provider.getTracer('tokenhub');
    logger.info({ url: config.tracing.tracesUrl }, 'tracing: exporting spans over OTLP/HTTP');
  }

  /** The span of a chat request that starts now, child of the caller's W3C `traceparent` when it sent one. */
  startRequest(req: { headers: IncomingHttpHeaders }): RequestTrace | null {
    if (!this.tracer) return null;
    const parent = this.propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      'POST /v1/chat/completions',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions' } },
      parent,
    );
    return new RequestTrace(this.tracer, span, parent);
  }

  /** Sends the spans still batched, once the requests have ended (ChatService.onModuleDestroy waits for them). */
  async onApplicationShutdown(): Promise<void> {
    try {
      await this.provider?.shutdown();
    } catch (err) {
      this.logger.warn({ err }, 'tracing: the last spans could not be exported');
    }
  }
}
