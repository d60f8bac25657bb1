import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ResponseCacheEntryEntity } from '../entities/response-cache-entry.entity';

/** A cached answer to store; `expiresAt` already resolved from the TTL that applies. */
export type ResponseCacheWrite = Omit<ResponseCacheEntryEntity, 'id' | 'createdAt'>;

/** A row sharing band signatures with a semantic lookup: its id and band keys. */
export interface BandMatch {
  id: string;
  lshKeys: number[];
}

/** A row a semantic lookup computes the cosine of: its id and unit vector. */
export interface SemanticCandidate {
  id: string;
  /** A Buffer from node-postgres, a Uint8Array from PGlite. */
  embedding: Uint8Array;
}

/** Which entries a purge removes: a namespace, a key's, a team's (owner), or an intersection of them. */
export interface ResponseCachePurge {
  namespace?: string;
  keyId?: string;
  owner?: string;
}

const UPDATED_ON_CONFLICT = ['embedding', 'lsh_keys', 'completion', 'served_provider', 'served_model', 'cost_usd', 'created_at', 'expires_at', 'key_id'];

export class ResponseCacheRepository {
  private readonly repo: Repository<ResponseCacheEntryEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.repo = dataSource.getRepository(ResponseCacheEntryEntity);
  }

  /** The live entry for exactly this request, if any. */
  findExact(requestHash: string): Promise<ResponseCacheEntryEntity | null> {
    return this.repo.createQueryBuilder('e').where('e.request_hash = :requestHash', { requestHash }).andWhere('e.expires_at > now()').getOne();
  }

  findById(id: string): Promise<ResponseCacheEntryEntity | null> {
    return this.repo.createQueryBuilder('e').where('e.id = :id', { id }).andWhere('e.expires_at > now()').getOne();
  }

  /**
   * Live entries of one scope sharing at least one band signature with the query, at most
   * `limit`; their band keys, not their vectors. Through the GIN index on `lsh_keys`, always
   * (see the function `response_cache_band_matches` in the migration).
   */
  async findBandMatches(scopeHash: string, lshKeys: number[], limit: number): Promise<BandMatch[]> {
    return this.dataSource.query<BandMatch[]>(`SELECT id, lsh_keys AS "lshKeys" FROM response_cache_band_matches($1::integer[], $2, $3)`, [lshKeys, scopeHash, limit]);
  }

  /** The vectors of these entries. */
  async findEmbeddings(ids: string[]): Promise<SemanticCandidate[]> {
    if (ids.length === 0) return [];
    return this.dataSource.query<SemanticCandidate[]>(`SELECT id, embedding FROM response_cache_entries WHERE id = ANY($1::uuid[])`, [ids]);
  }

  /** One multi-row statement; a request stored again replaces its entry (fresh answer, fresh TTL). */
  async upsertMany(writes: ResponseCacheWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // The last write of a request wins: a statement may not touch the same row twice.
    const byHash = new Map(writes.map((w) => [w.requestHash, w]));
    await this.repo
      .createQueryBuilder()
      .insert()
      .values([...byHash.values()].map((w) => ({ ...w, createdAt: () => 'now()' })) as QueryDeepPartialEntity<ResponseCacheEntryEntity>[])
      .orUpdate(UPDATED_ON_CONFLICT, ['request_hash'])
      .updateEntity(false)
      .execute();
  }

  /** Deletes the matching entries; returns how many. At least one criterion is required. */
  async purge(criteria: ResponseCachePurge): Promise<number> {
    const columns = { namespace: 'namespace', keyId: 'key_id', owner: 'owner' } as const;
    const given = (Object.keys(columns) as Array<keyof ResponseCachePurge>).filter((k) => criteria[k] !== undefined);
    if (given.length === 0) throw new Error('a cache purge needs a namespace, a key or an owner');
    const qb = this.repo.createQueryBuilder().delete();
    for (const k of given) qb.andWhere(`${columns[k]} = :${k}`, { [k]: criteria[k] });
    const result = await qb.execute();
    return result.affected ?? 0;
  }

  /** Deletes up to `batchSize` expired entries; returns how many. */
  async deleteExpired(batchSize = 1_000): Promise<number> {
    const [{ deleted }] = await this.dataSource.query<Array<{ deleted: number }>>(
      `WITH d AS (
         DELETE FROM response_cache_entries WHERE id IN (SELECT id FROM response_cache_entries WHERE expires_at <= now() LIMIT $1) RETURNING 1
       ) SELECT count(*)::int AS deleted FROM d`,
      [batchSize],
    );
    return deleted;
  }
}
