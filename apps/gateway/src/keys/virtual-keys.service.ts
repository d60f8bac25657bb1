import { Injectable } from '@nestjs/common';
import { GatewayError, InvalidRequestError, NotFoundError } from '@tokenhub/common';
import { VirtualKeyEntity, VirtualKeyRepository } from '@tokenhub/store';
import { AdminAuditService } from '../audit/admin-audit.service';
import { AuthService } from '../auth/auth.service';
import { hashSecret, newVirtualKey, VIRTUAL_KEY_PREFIX } from '../auth/secrets';
import type { Actor } from '../teams/admin-actor';
import { BudgetsService } from '../teams/budgets.service';
import { BudgetStatusView } from '../teams/dto/budget.dto';
import { limitsOf } from '../teams/dto/policy.dto';
import { TeamsService } from '../teams/teams.service';
import { CreateVirtualKeyDto, UpdateVirtualKeyDto } from './dto/create-virtual-key.dto';
import { CreatedVirtualKeyView, VirtualKeyView } from './dto/virtual-key.view';

const hintOf = (key: string) => `${VIRTUAL_KEY_PREFIX}…${key.slice(-4)}`;

/**
 * Virtual keys and their policies. Every change is in the admin audit log (never a secret
 * or hash) and drops the key from this process's auth cache, so it applies at once.
 */
@Injectable()
export class VirtualKeysService {
  constructor(
    private readonly keys: VirtualKeyRepository,
    private readonly auth: AuthService,
    private readonly audit: AdminAuditService,
    private readonly budgets: BudgetsService,
    private readonly teams: TeamsService,
  ) {}

  async create(dto: CreateVirtualKeyDto, who: Actor): Promise<CreatedVirtualKeyView> {
    this.budgets.checkInline(dto.budgets);
    const expiresAt = dto.expires_at ? new Date(dto.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw new InvalidRequestError('expires_at must be in the future.', 'expires_at', 'invalid_value');
    if (dto.team_id) await this.teams.assertTeam(dto.team_id);
    const key = newVirtualKey();
    const keyHash = hashSecret(key);
    const entity = await this.keys.create({
      name: dto.name,
      keyHash,
      keyHint: hintOf(key),
      teamId: dto.team_id ?? null,
      active: dto.active ?? true,
      expiresAt,
      limits: limitsOf(dto),
    });
    const budgetChanges = await this.budgets.replaceInline('key', entity.id, dto.budgets ?? null, who);
    this.auth.forget(keyHash);
    const view = await this.view(entity);
    await this.audit.record({ ...who, action: 'virtual_key.create', targetType: 'virtual_key', targetId: entity.id, before: null, after: view });
    await this.budgets.recordAll(budgetChanges);
    return { ...view, key };
  }

  async list(includeRevoked: boolean): Promise<VirtualKeyView[]> {
    const keys = await this.keys.list(includeRevoked);
    const budgets = await this.budgets.viewsFor('key', keys.map((k) => k.id));
    return keys.map((k) => VirtualKeyView.of(k, budgets.get(k.id) ?? []));
  }

  async get(id: string): Promise<VirtualKeyView> {
    return this.view(await this.find(id));
  }

  async update(id: string, dto: UpdateVirtualKeyDto, who: Actor): Promise<VirtualKeyView> {
    this.budgets.checkInline(dto.budgets);
    const current = await this.find(id);
    if (current.revokedAt) throw revoked(id);
    if (dto.team_id) await this.teams.assertTeam(dto.team_id);
    const before = await this.view(current);
    const updated = await this.keys.update(id, {
      name: dto.name,
      teamId: dto.team_id,
      active: dto.active,
      expiresAt: dto.expires_at === undefined ? undefined : dto.expires_at === null ? null : new Date(dto.expires_at),
      limits: limitsOf(dto),
    });
    if (!updated) throw notFound(id);
    const budgetChanges = dto.budgets === undefined ? [] : await this.budgets.replaceInline('key', id, dto.budgets, who);
    this.auth.forget(updated.keyHash);
    const after = await this.view(updated);
    await this.audit.record({ ...who, action: 'virtual_key.update', targetType: 'virtual_key', targetId: id, before, after });
    await this.budgets.recordAll(budgetChanges);
    return after;
  }

  /** A new secret for the same key (same id, policies and history); the old secret stops working at once. */
  async rotate(id: string, who: Actor): Promise<CreatedVirtualKeyView> {
    const current = await this.find(id);
    if (current.revokedAt) throw revoked(id);
    const before = await this.view(current);
    const key = newVirtualKey();
    const keyHash = hashSecret(key);
    const rotated = await this.keys.rotate(id, keyHash, hintOf(key));
    this.auth.forget(current.keyHash);
    this.auth.forget(keyHash);
    if (!rotated) throw revoked(id);
    const after = await this.view(rotated);
    await this.audit.record({ ...who, action: 'virtual_key.rotate', targetType: 'virtual_key', targetId: id, before, after });
    return { ...after, key };
  }

  async revoke(id: string, who: Actor): Promise<VirtualKeyView> {
    const current = await this.find(id);
    const key = await this.keys.revoke(id);
    if (!key) throw notFound(id);
    this.auth.forget(key.keyHash);
    const after = await this.view(key);
    // Revoking again changes nothing, and is not logged again.
    if (!current.revokedAt) {
      await this.audit.record({ ...who, action: 'virtual_key.revoke', targetType: 'virtual_key', targetId: id, before: await this.view(current), after });
    }
    return after;
  }

  async budgetStatus(id: string): Promise<BudgetStatusView[]> {
    return this.budgets.statusForKey(id);
  }

  private async find(id: string): Promise<VirtualKeyEntity> {
    const key = await this.keys.findById(id);
    if (!key) throw notFound(id);
    return key;
  }

  private async view(k: VirtualKeyEntity): Promise<VirtualKeyView> {
    return VirtualKeyView.of(k, (await this.budgets.viewsFor('key', [k.id])).get(k.id) ?? []);
  }
}

const notFound = (id: string) => new NotFoundError(`No virtual key with id ${id}.`, 'key_not_found');
const revoked = (id: string) => new GatewayError(409, `The virtual key ${id} is revoked; revocation is final.`, 'invalid_request_error', 'key_revoked');
