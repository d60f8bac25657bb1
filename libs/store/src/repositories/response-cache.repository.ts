import { DataSource, Repository } from 'typeorm';
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

  /**
   * One multi-row statement; a request stored again replaces its entry (fresh answer, fresh
   * TTL), keeping the stored vector when the new write has none (a `no-cache` refresh skips
   * the lookup, hence the embedding, of what is the same question).
   */
  async upsertMany(writes: ResponseCacheWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // The last write of a request wins: a statement may not touch the same row twice.
    const rows = [...new Map(writes.map((w) => [w.requestHash, w])).values()];
    const params: unknown[] = [];
    const values = rows.map((w) => {
      const at = params.length;
      params.push(w.namespace, w.owner, w.keyId, w.scopeHash, w.requestHash, w.embedding, w.lshKeys, JSON.stringify(w.completion), w.servedProvider, w.servedModel, w.costUsd, w.expiresAt);
      const p = (i: number) => `$${at + i}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}::uuid, ${p(4)}, ${p(5)}, ${p(6)}::bytea, ${p(7)}::integer[], ${p(8)}::jsonb, ${p(9)}, ${p(10)}, ${p(11)}::numeric, ${p(12)}::timestamptz)`;
    });
    await this.dataSource.query(
      `INSERT INTO response_cache_entries AS e (namespace, owner, key_id, scope_hash, request_hash, embedding, lsh_keys, completion, served_provider, served_model, cost_usd, expires_at)
       VALUES ${values.join(', ')}
       ON CONFLICT (request_hash) DO UPDATE SET
         key_id = EXCLUDED.key_id,
         embedding = coalesce(EXCLUDED.embedding, e.embedding),
         lsh_keys = coalesce(EXCLUDED.lsh_keys, e.lsh_keys),
         completion = EXCLUDED.completion,
         served_provider = EXCLUDED.served_provider,
         served_model = EXCLUDED.served_model,
         cost_usd = EXCLUDED.cost_usd,
         created_at = now(),
         expires_at = EXCLUDED.expires_at`,
      params,
    );
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
