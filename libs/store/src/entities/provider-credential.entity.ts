import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * A provider API key managed through the admin API. The secret is stored encrypted
 * (AES-256-GCM under TOKENHUB_ENCRYPTION_KEY): iv, auth tag and ciphertext.
 */
@Entity({ name: 'provider_credentials' })
@Index('ix_provider_credentials_provider', ['provider'])
export class ProviderCredentialEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ type: 'varchar', length: 100 })
  provider: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ name: 'secret_ciphertext', type: 'bytea' })
  secretCiphertext: Buffer;

  /** The secret's last characters, to tell credentials apart. */
  @Column({ name: 'secret_hint', type: 'varchar', length: 16 })
  secretHint: string;

  @Column({ type: 'integer', default: 1 })
  weight: number;

  @Column({ name: 'allowed_models', type: 'text', array: true, nullable: true })
  allowedModels: string[] | null;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /** Why the gateway took it out of rotation (the provider answered 401/403). */
  @Column({ name: 'disabled_reason', type: 'text', nullable: true })
  disabledReason: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
