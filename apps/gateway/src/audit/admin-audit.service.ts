import { Injectable } from '@nestjs/common';
import { AdminAuditRepository } from '@tokenhub/store';

/** Field names whose values never reach the audit log. */
const SECRET_FIELDS = /^(key|secret|api_?key|apiKey|password|token|key_hash|keyHash|secret_ciphertext|secretCiphertext)$/i;

export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return '[redacted]';
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.test(k) ? '[redacted]' : redactSecrets(v)]));
  }
  return value;
}

export interface AdminChange {
  /** `admin`, or the platform-token subject that made the change. */
  actor: string;
  /** e.g. `virtual_key.create`, `team.update`, `provider_credential.disable`. */
  action: string;
  targetType: string;
  targetId: string | null;
  before?: object | null;
  after?: object | null;
  requestId?: string | null;
}

/** Writes every change made through the admin API to the append-only audit log, secrets redacted. */
@Injectable()
export class AdminAuditService {
  constructor(private readonly log: AdminAuditRepository) {}

  record(change: AdminChange): Promise<void> {
    return this.log.append({
      actor: change.actor,
      action: change.action,
      targetType: change.targetType,
      targetId: change.targetId,
      before: (change.before ? redactSecrets(change.before) : null) as Record<string, unknown> | null,
      after: (change.after ? redactSecrets(change.after) : null) as Record<string, unknown> | null,
      requestId: change.requestId ?? null,
    });
  }
}
