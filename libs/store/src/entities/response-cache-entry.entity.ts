import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

const numeric = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/**
 * One cached chat answer of the response cache (`prompt_cache_key`). `scopeHash` names the
 * bucket a lookup may hit: namespace, owner (team), the models asked for, the parameters
 * that change the answer and the conversation before the last user turn. `requestHash`
 * adds the last turn itself (exact hits). `embedding` and `lshKeys` serve semantic hits:
 * the last user turn's unit vector and its random-hyperplane band signatures, each
 * hashed with the scope so that the GIN index over them only finds the bucket's rows.
 */
@Entity({ name: 'response_cache_entries' })
@Index('ix_response_cache_entries_namespace_owner', ['namespace', 'owner'])
@Index('ix_response_cache_entries_key_id', ['keyId'])
@Index('ix_response_cache_entries_expires_at', ['expiresAt'])
export class ResponseCacheEntryEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  /** The `prompt_cache_key` (or a policy's default namespace). */
  @Column({ type: 'varchar', length: 1024 })
  namespace: string;

  /** Whose answers these are: the team id, else the principal (`key:<id>`, `admin`, `jwt:<sub>`). */
  @Column({ type: 'varchar', length: 200 })
  owner: string;

  /** The virtual key whose request was stored (for purging one key's entries). */
  @Column({ name: 'key_id', type: 'uuid', nullable: true })
  keyId: string | null;

  /** sha256 hex of the scope (see above). Not indexed: lookups reach a scope's rows through `lsh_keys`. */
  @Column({ name: 'scope_hash', type: 'varchar', length: 64 })
  scopeHash: string;

  /** sha256 hex of the scope and the last turn: one row per exact request. */
  @Index('ux_response_cache_entries_request_hash', { unique: true })
  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash: string;

  /** The last user turn's embedding, normalised to length 1, as little-endian float32. */
  @Column({ type: 'bytea', nullable: true })
  embedding: Buffer | null;

  /** Band signatures hashed with the scope; GIN-indexed (created by the migration). */
  @Index('ix_response_cache_entries_lsh_keys', { synchronize: false })
  @Column({ name: 'lsh_keys', type: 'integer', array: true, nullable: true })
  lshKeys: number[] | null;

  /** The normalised completion (model, choices, usage, system_fingerprint). */
  @Column({ type: 'jsonb' })
  completion: Record<string, unknown>;

  @Column({ name: 'served_provider', type: 'varchar', length: 100 })
  servedProvider: string;

  @Column({ name: 'served_model', type: 'varchar', length: 300 })
  servedModel: string;

  /** What the answer cost when it was made (what each hit saves); null when unpriced. */
  @Column({ name: 'cost_usd', type: 'numeric', precision: 18, scale: 10, nullable: true, transformer: numeric })
  costUsd: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
