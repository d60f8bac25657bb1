import { Injectable } from '@nestjs/common';
import { InvalidRequestError, NotFoundError, SecretBox, secretHint, ServiceUnavailableError } from '@tokenhub/common';
import { ProviderRegistry } from '@tokenhub/providers';
import { ProviderCredentialChanges, ProviderCredentialRepository } from '@tokenhub/store';
import { AdminAuditService } from '../audit/admin-audit.service';
import { CredentialSyncService } from './credential-sync.service';
import { CreateProviderCredentialDto } from './dto/create-provider-credential.dto';
import { DeletedProviderCredentialView, ProviderCredentialView } from './dto/provider-credential.view';
import { UpdateProviderCredentialDto } from './dto/update-provider-credential.dto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ENV_ID = /^env:[a-z0-9_-]+:\d+$/;
const DISABLED_BY_ADMIN = 'disabled through the admin API';

/** Who made an admin change, for the audit log. */
export interface Actor {
  actor: string;
  requestId: string | null;
}

/**
 * Provider API keys through the admin API. Stored ones are encrypted (AES-256-GCM) under
 * TOKENHUB_ENCRYPTION_KEY and take effect at once on this process (others within the
 * refresh interval); those from the environment can be re-enabled or disabled in memory.
 * Every change is audited with the secret left out.
 */
@Injectable()
export class ProviderCredentialsService {
  constructor(
    private readonly repository: ProviderCredentialRepository,
    private readonly registry: ProviderRegistry,
    private readonly sync: CredentialSyncService,
    private readonly audit: AdminAuditService,
  ) {}

  async create(dto: CreateProviderCredentialDto, who: Actor): Promise<ProviderCredentialView> {
    const box = this.requireBox();
    if (!this.registry.acceptsCredentialsFor(dto.provider)) {
      throw new InvalidRequestError(
        `Provider '${dto.provider}' is not configured on this gateway and has no default base URL; configured: ${this.registry.names.join(', ') || 'none'}. ` +
          `Set ${dto.provider.toUpperCase().replace(/-/g, '_')}_BASE_URL (and list custom providers in TOKENHUB_CUSTOM_PROVIDERS).`,
        'provider',
        'unknown_provider',
      );
    }
    const row = await this.repository.create({
      provider: dto.provider,
      name: dto.name,
      secretCiphertext: box.seal(dto.api_key),
      secretHint: secretHint(dto.api_key),
      weight: dto.weight ?? 1,
      allowedModels: dto.allowed_models ?? null,
    });
    await this.sync.refresh();
    const view = ProviderCredentialView.ofStored(row, this.registry.credentialState(row.id));
    await this.audit.record({ ...who, action: 'provider_credential.create', targetType: 'provider_credential', targetId: row.id, after: view });
    return view;
  }

  async list(provider?: string): Promise<ProviderCredentialView[]> {
    const rows = await this.repository.list(provider);
    const states = this.registry.credentialStates();
    const env = states.filter((s) => s.source === 'env' && (!provider || s.provider === provider)).map((s) => ProviderCredentialView.ofEnv(s));
    return [...env, ...rows.map((row) => ProviderCredentialView.ofStored(row, states.find((s) => s.id === row.id)))];
  }

  async get(id: string): Promise<ProviderCredentialView> {
    if (ENV_ID.test(id)) return ProviderCredentialView.ofEnv(this.envState(id));
    const row = UUID.test(id) ? await this.repository.findById(id) : null;
    if (!row) throw notFound(id);
    return ProviderCredentialView.ofStored(row, this.registry.credentialState(id));
  }

  async update(id: string, dto: UpdateProviderCredentialDto, who: Actor): Promise<ProviderCredentialView> {
    if (ENV_ID.test(id)) return this.updateEnv(id, dto, who);
    if (!UUID.test(id)) throw notFound(id);
    this.requireBox();
    const before = await this.get(id);
    const changes: ProviderCredentialChanges = {};
    if (dto.name !== undefined && dto.name !== null) changes.name = dto.name;
    if (dto.weight !== undefined && dto.weight !== null) changes.weight = dto.weight;
    if (dto.allowed_models !== undefined) changes.allowedModels = dto.allowed_models;
    if (dto.enabled !== undefined && dto.enabled !== null) {
      changes.enabled = dto.enabled;
      changes.disabledReason = dto.enabled ? null : DISABLED_BY_ADMIN;
    }
    const row = await this.repository.update(id, changes);
    if (!row) throw notFound(id);
    // This process's own memory of a refusal or a cooldown goes too.
    if (dto.enabled === true) this.registry.enableCredential(id);
    await this.sync.refresh();
    const after = ProviderCredentialView.ofStored(row, this.registry.credentialState(id));
    await this.audit.record({ ...who, action: actionFor(dto), targetType: 'provider_credential', targetId: id, before, after });
    return after;
  }

  async delete(id: string, who: Actor): Promise<DeletedProviderCredentialView> {
    if (ENV_ID.test(id)) {
      this.envState(id);
      throw new InvalidRequestError('Credentials from the environment cannot be deleted here; disable it ({"enabled": false}) or remove it from the environment.', 'id', 'env_credential_read_only');
    }
    if (!UUID.test(id)) throw notFound(id);
    this.requireBox();
    const before = await this.get(id);
    const row = await this.repository.delete(id);
    if (!row) throw notFound(id);
    await this.sync.refresh();
    await this.audit.record({ ...who, action: 'provider_credential.delete', targetType: 'provider_credential', targetId: id, before });
    return { id, object: 'provider_credential', deleted: true };
  }

  /** Environment credentials change in memory only, and only in being enabled or not. */
  private async updateEnv(id: string, dto: UpdateProviderCredentialDto, who: Actor): Promise<ProviderCredentialView> {
    const before = ProviderCredentialView.ofEnv(this.envState(id));
    const fixed = (['name', 'weight', 'allowed_models'] as const).find((f) => dto[f] !== undefined);
    if (fixed) {
      throw new InvalidRequestError(`${fixed} of a credential from the environment is set by the environment; only enabled can change here.`, fixed, 'env_credential_read_only');
    }
    if (dto.enabled === true) this.registry.enableCredential(id);
    else if (dto.enabled === false) this.registry.disableCredential(id, DISABLED_BY_ADMIN);
    const after = ProviderCredentialView.ofEnv(this.envState(id));
    await this.audit.record({ ...who, action: actionFor(dto), targetType: 'provider_credential', targetId: id, before, after });
    return after;
  }

  private envState(id: string) {
    const state = this.registry.credentialState(id);
    if (!state || state.source !== 'env') throw notFound(id);
    return state;
  }

  private requireBox(): SecretBox {
    if (!this.sync.box) {
      throw new ServiceUnavailableError(
        'Stored provider credentials need an encryption key: set TOKENHUB_ENCRYPTION_KEY (32 bytes, as 64 hex or 44 base64 characters) and restart.',
        'encryption_key_not_configured',
      );
    }
    return this.sync.box;
  }
}

function actionFor(dto: UpdateProviderCredentialDto): string {
  const onlyEnabled = Object.keys(dto).filter((k) => (dto as Record<string, unknown>)[k] !== undefined).every((k) => k === 'enabled');
  if (onlyEnabled && dto.enabled === true) return 'provider_credential.enable';
  if (onlyEnabled && dto.enabled === false) return 'provider_credential.disable';
  return 'provider_credential.update';
}

const notFound = (id: string) => new NotFoundError(`No provider credential with id ${id}.`, 'provider_credential_not_found');
