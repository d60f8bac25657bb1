import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
