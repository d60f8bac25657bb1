import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SecretBox } from '@tokenhub/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { CredentialDisabledEvent, ProviderRegistry, StoredCredential } from '@tokenhub/providers';
import { ProviderCredentialRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import { AdminAuditService } from '../audit/admin-audit.service';
import { LOGGER } from '../logging.tokens';

/**
 * Keeps the provider registry's stored credentials in step with the database: loaded
 * before the server takes traffic, refreshed every `REFRESH_MS` (changes made by other
 * processes) and at once after a change through this process's admin API. Persists the
 * credentials a provider refuses (401/403) as disabled, and logs it in the audit log.
 * Secrets are decrypted here and handed only to the registry; they are never logged.
 */
@Injectable()
export class CredentialSyncService implements OnModuleInit, OnModuleDestroy {
  static REFRESH_MS = 10_000;
  readonly box: SecretBox | null;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** What was last warned about, so a periodic refresh does not repeat the same warning. */
  private lastWarning = '';

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly repository: ProviderCredentialRepository,
    private readonly registry: ProviderRegistry,
    private readonly audit: AdminAuditService,
  ) {
    this.box = config.encryptionKey ? new SecretBox(config.encryptionKey) : null;
  }

  async onModuleInit(): Promise<void> {
    this.registry.onCredentialDisabled((event) => this.persistRefusal(event));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), CredentialSyncService.REFRESH_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.chain;
  }

  /** Reloads the stored credentials; refreshes run one at a time, in order. */
  refresh(): Promise<void> {
    this.chain = this.chain.then(() => (this.closed ? undefined : this.load())).catch((err) => {
      this.logger.error({ err: { message: (err as Error).message } }, 'provider credentials: refresh failed');
    });
    return this.chain;
  }

  private async load(): Promise<void> {
    const rows = await this.repository.list();
    const usable: StoredCredential[] = [];
    const undecryptable: string[] = [];
    for (const row of rows) {
      if (!this.box) {
        undecryptable.push(row.id);
        continue;
      }
      let apiKey: string;
      try {
        apiKey = this.box.open(row.secretCiphertext);
      } catch {
        undecryptable.push(row.id);
        continue;
      }
      usable.push({
        id: row.id,
        provider: row.provider,
        name: row.name,
        apiKey,
        hint: row.secretHint,
        weight: row.weight,
        allowedModels: row.allowedModels,
        enabled: row.enabled,
        disabledReason: row.disabledReason,
        updatedAt: row.updatedAt,
      });
    }
    const { unusable } = this.registry.setStoredCredentials(usable);
    const warning = JSON.stringify([undecryptable, unusable]);
    if (warning !== this.lastWarning && (undecryptable.length > 0 || unusable.length > 0)) {
      if (undecryptable.length > 0) {
        this.logger.warn(
          { credentials: undecryptable, encryptionKeyConfigured: !!this.box },
          this.box
            ? 'provider credentials: some stored credentials cannot be decrypted with TOKENHUB_ENCRYPTION_KEY and are not used'
            : 'provider credentials: stored credentials are not used because TOKENHUB_ENCRYPTION_KEY is not set',
        );
      }
      if (unusable.length > 0) this.logger.warn({ providers: unusable }, 'provider credentials: stored for providers that are not configured here; not used');
    }
    this.lastWarning = warning;
  }

  /** The provider refused a credential: stored ones are persisted disabled; every refusal is audited. */
  private async persistRefusal(event: CredentialDisabledEvent): Promise<Date | null> {
    this.logger.warn(
      { provider: event.provider, credential: event.id, credentialName: event.name, hint: event.hint, source: event.source, status: event.status },
      `provider credentials: ${event.provider} refused a credential (${event.status}); taken out of rotation until re-enabled`,
    );
    let persistedAt: Date | null = null;
    if (event.source === 'database') {
      persistedAt = await this.repository.disable(event.id, event.reason);
      if (!persistedAt) return null;
    }
    await this.audit
      .record({
        actor: 'gateway',
        action: 'provider_credential.auto_disable',
        targetType: 'provider_credential',
        targetId: event.id,
        before: { enabled: true, disabled_reason: null },
        after: { enabled: false, disabled_reason: event.reason, provider: event.provider, source: event.source, status: event.status },
      })
      .catch((err) => this.logger.error({ err: { message: (err as Error).message } }, 'provider credentials: audit write failed'));
    return persistedAt;
  }
}
