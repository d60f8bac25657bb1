import { Global, Module } from '@nestjs/common';
import { TracingService } from './tracing.service';

/** OpenTelemetry traces of chat requests (a no-op unless an OTLP endpoint is configured). */
@Global()
@Module({ providers: [TracingService], exports: [TracingService] })
export class TracingModule {}
