import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '@tokenhub/common';
import { ResponseCacheRepository } from '@tokenhub/store';
import { AdminAuditService } from '../audit/admin-audit.service';
import type { Actor } from '../teams/admin-actor';
import { PurgeCacheQuery, PurgeCacheView } from './dto/purge-cache.dto';

/** The admin side of the response cache: purging entries, audited. */
@Injectable()
export class CacheAdminService {
  constructor(
    private readonly repository: ResponseCacheRepository,
    private readonly audit: AdminAuditService,
  ) {}

  async purge(query: PurgeCacheQuery, who: Actor): Promise<PurgeCacheView> {
    if (query.namespace === undefined && query.key_id === undefined && query.team_id === undefined) {
      throw new InvalidRequestError('Name what to purge: namespace, key_id and/or team_id.', 'namespace', 'missing_purge_criteria');
    }
    const deleted = await this.repository.purge({ namespace: query.namespace, keyId: query.key_id, owner: query.team_id });
    const view: PurgeCacheView = { object: 'cache.purge', deleted, namespace: query.namespace ?? null, key_id: query.key_id ?? null, team_id: query.team_id ?? null };
    await this.audit.record({ ...who, action: 'cache.purge', targetType: 'cache_namespace', targetId: query.namespace?.slice(0, 100) ?? null, before: null, after: view });
    return view;
  }
}
