import { Injectable } from '@nestjs/common';
import { ProviderRegistry } from '@tokenhub/providers';
import type { Principal } from '../auth/principal';
import { modelAllowed } from '../governance/model-access';

/** One entry of `GET /v1/models`, as OpenAI shapes it. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * The models a caller may use: catalog models of the configured providers, filtered by the
 * allowed models of every level of the principal's scopes (key, team, customer), the same
 * rule chat completions enforce. The admin key sees them all. Providers without catalog
 * entries (Azure deployments, vLLM, custom servers) list nothing: their models are not known
 * ahead of a request.
 */
@Injectable()
export class ModelsService {
  /** The catalog's release date, as OpenAI's `created` (unix seconds). */
  private readonly created: number;

  constructor(private readonly registry: ProviderRegistry) {
    const parsed = Date.parse(registry.catalog.version.slice(0, 10));
    this.created = Number.isFinite(parsed) ? Math.floor(parsed / 1000) : 0;
  }

  list(principal: Principal): { object: 'list'; data: ModelObject[] } {
    const configured = new Set(this.registry.names);
    const scopes = principal.kind === 'admin' ? [] : principal.scopes;
    const data: ModelObject[] = [];
    for (const id of this.registry.catalog.ids()) {
      const slash = id.indexOf('/');
      const provider = id.slice(0, slash);
      const model = id.slice(slash + 1);
      if (!configured.has(provider)) continue;
      const allowed = scopes.every((level) => {
        const patterns = level.limits?.allowedModels;
        return patterns === null || patterns === undefined || modelAllowed(patterns, provider, model);
      });
      if (allowed) data.push({ id, object: 'model', created: this.created, owned_by: provider });
    }
    return { object: 'list', data };
  }
}
