import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { LimitsColumns } from './limits.embedded';

/** A caller's key (`sk-bf-…`). Only its SHA-256 hash is stored; the secret is shown once. */
@Entity({ name: 'virtual_keys' })
export class VirtualKeyEntity {
  // gen_random_uuid() is built into Postgres 13+ and PGlite; uuid-ossp is in neither by default.
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Index('uq_virtual_keys_key_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'char', length: 64 })
  keyHash: string;

  /** The last characters of the secret, so people can tell keys apart. */
  @Column({ name: 'key_hint', type: 'varchar', length: 32 })
  keyHint: string;

  @Index('ix_virtual_keys_team_id')
  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId: string | null;

  /** An inactive key is refused (403) until it is activated again; revocation is final. */
  @Column({ type: 'boolean', default: true })
  active: boolean;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column(() => LimitsColumns, { prefix: false })
  limits: LimitsColumns;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** When the secret was last replaced (same id, same history). */
  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
