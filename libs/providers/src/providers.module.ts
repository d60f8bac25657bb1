import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type { GatewayConfig } from '@tokenhub/config';
import { ModelCatalog } from './catalog/model-catalog';
import { UpstreamHttpClient } from './http/upstream-http-client';
import { ProviderRegistry } from './provider-registry';

@Injectable()
class HttpClientCloser implements OnApplicationShutdown {
  constructor(@Inject(UpstreamHttpClient) private readonly http: UpstreamHttpClient) {}
  onApplicationShutdown(): Promise<void> {
    return this.http.close();
  }
}

@Global()
@Module({})
export class ProvidersModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: ProvidersModule,
      providers: [
        { provide: UpstreamHttpClient, useFactory: () => new UpstreamHttpClient(config.timeouts) },
        { provide: ModelCatalog, useFactory: () => new ModelCatalog(config.modelCatalogPath) },
        {
          provide: ProviderRegistry,
          useFactory: (catalog: ModelCatalog, http: UpstreamHttpClient) => new ProviderRegistry(config, catalog, http),
          inject: [ModelCatalog, UpstreamHttpClient],
        },
        HttpClientCloser,
      ],
      exports: [ProviderRegistry, ModelCatalog, UpstreamHttpClient],
    };
  }
}
