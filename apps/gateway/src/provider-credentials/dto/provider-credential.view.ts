import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { CredentialState } from '@tokenhub/providers';
import type { ProviderCredentialEntity } from '@tokenhub/store';

export type CredentialStatus = 'active' | 'disabled' | 'cooling_down' | 'not_loaded';

/** A provider credential as the admin API shows it: never the secret, only its last 4 characters. */
export class ProviderCredentialView {
  @ApiProperty({ description: 'A UUID for stored credentials, `env:<provider>:<n>` for those from the environment.' }) id: string;
  @ApiProperty({ enum: ['provider_credential'] }) object: 'provider_credential';
  @ApiProperty({ enum: ['database', 'env'] }) source: 'database' | 'env';
  @ApiProperty({ example: 'openai' }) provider: string;
  @ApiProperty({ example: 'openai-prod-a' }) name: string;
  @ApiProperty({ description: 'The last 4 characters of the key.', example: 'x7Qa' }) secret_hint: string;
  @ApiProperty({ example: 1 }) weight: number;
  @ApiPropertyOptional({ nullable: true, type: [String] }) allowed_models: string[] | null;
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why it is out of rotation, e.g. the provider answered 401.' }) disabled_reason: string | null;
  @ApiProperty({
    enum: ['active', 'disabled', 'cooling_down', 'not_loaded'],
    description: '`cooling_down`: sitting out a 429\'s Retry-After; `not_loaded`: stored but not in rotation on this process (its provider is not configured, or it cannot be decrypted).',
  })
  status: CredentialStatus;
  @ApiPropertyOptional({ nullable: true, type: String }) cooling_until: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) created_at: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) updated_at: string | null;

  static ofStored(row: ProviderCredentialEntity, live: CredentialState | undefined): ProviderCredentialView {
    const enabled = live ? live.enabled : row.enabled;
    return {
      id: row.id,
      object: 'provider_credential',
      source: 'database',
      provider: row.provider,
      name: row.name,
      secret_hint: row.secretHint,
      weight: row.weight,
      allowed_models: row.allowedModels,
      enabled,
      disabled_reason: live ? live.disabledReason : row.disabledReason,
      status: !enabled ? 'disabled' : !live ? 'not_loaded' : live.coolingUntil ? 'cooling_down' : 'active',
      cooling_until: live?.coolingUntil?.toISOString() ?? null,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
    };
  }

  static ofEnv(live: CredentialState): ProviderCredentialView {
    return {
      id: live.id,
      object: 'provider_credential',
      source: 'env',
      provider: live.provider,
      name: live.name,
      secret_hint: live.hint,
      weight: live.weight,
      allowed_models: live.allowedModels,
      enabled: live.enabled,
      disabled_reason: live.disabledReason,
      status: !live.enabled ? 'disabled' : live.coolingUntil ? 'cooling_down' : 'active',
      cooling_until: live.coolingUntil?.toISOString() ?? null,
      created_at: null,
      updated_at: null,
    };
  }
}

export class ProviderCredentialListView {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ProviderCredentialView] }) data: ProviderCredentialView[];
}

export class DeletedProviderCredentialView {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['provider_credential'] }) object: 'provider_credential';
  @ApiProperty({ enum: [true] }) deleted: true;
}
