import { Injectable } from '@nestjs/common';
import { GatewayError, InvalidRequestError, NotFoundError } from '@tokenhub/common';
import { BudgetAdminRepository, BudgetEntity, BudgetScope, TeamRepository, VirtualKeyRepository } from '@tokenhub/store';
import { AdminAuditService, AdminChange } from '../audit/admin-audit.service';
import { AuthService } from '../auth/auth.service';
import { windowAt } from '../governance/windows';
import type { Actor } from './admin-actor';
import { BudgetStatusView, BudgetView, CreateBudgetDto, ListBudgetsQuery, UpdateBudgetDto } from './dto/budget.dto';
import type { InlineBudgetDto } from './dto/policy.dto';

/** A scope on a key's path: the key itself, its team, the team's customer. */
export interface ScopeRef {
  scope: BudgetScope;
  scopeId: string;
}

/**
 * Budgets through the admin API: on their own (`/admin/budgets`) or inline with a key,
 * team or customer. Every change is in the audit log and drops cached keys, so the next
 * request sees it.
 */
@Injectable()
export class BudgetsService {
  constructor(
    private readonly budgets: BudgetAdminRepository,
    private readonly keys: VirtualKeyRepository,
    private readonly teams: TeamRepository,
    private readonly audit: AdminAuditService,
    private readonly auth: AuthService,
  ) {}

  async create(dto: CreateBudgetDto, who: Actor): Promise<BudgetView> {
    await this.assertScopeExists(dto.scope, dto.scope_id);
    const existing = await this.budgets.list({ scope: dto.scope, scopeId: dto.scope_id });
    if (existing.some((b) => b.period === dto.period)) {
      throw new GatewayError(409, `This ${dto.scope} already has a ${dto.period} budget; change its limit instead.`, 'invalid_request_error', 'budget_exists', 'period');
    }
    const budget = BudgetView.of(await this.budgets.create({ scope: dto.scope, scopeId: dto.scope_id, period: dto.period, limitUsd: dto.limit_usd }));
    await this.audit.record({ ...who, action: 'budget.create', targetType: 'budget', targetId: budget.id, before: null, after: budget });
    this.auth.forgetAll();
    return budget;
  }

  async list(q: ListBudgetsQuery): Promise<BudgetView[]> {
    return (await this.budgets.list({ scope: q.scope, scopeId: q.scope_id })).map((b) => BudgetView.of(b));
  }

  async get(id: string): Promise<BudgetView> {
    return BudgetView.of(await this.find(id));
  }

  async update(id: string, dto: UpdateBudgetDto, who: Actor): Promise<BudgetView> {
    const before = BudgetView.of(await this.find(id));
    const updated = await this.budgets.updateLimit(id, dto.limit_usd);
    if (!updated) throw notFound(id);
    const after = BudgetView.of(updated);
    await this.audit.record({ ...who, action: 'budget.update', targetType: 'budget', targetId: id, before, after });
    this.auth.forgetAll();
    return after;
  }

  async delete(id: string, who: Actor): Promise<{ id: string; object: 'budget'; deleted: true }> {
    const deleted = await this.budgets.delete(id);
    if (!deleted) throw notFound(id);
    await this.audit.record({ ...who, action: 'budget.delete', targetType: 'budget', targetId: id, before: BudgetView.of(deleted), after: null });
    this.auth.forgetAll();
    return { id, object: 'budget', deleted: true };
  }

  /** The budgets of each of these keys, teams or customers (of one scope). */
  async viewsFor(scope: BudgetScope, ids: string[]): Promise<Map<string, BudgetView[]>> {
    const views = new Map<string, BudgetView[]>(ids.map((id) => [id, []]));
    for (const b of await this.budgets.listForScopeIds(scope, ids)) views.get(b.scopeId)?.push(BudgetView.of(b));
    return views;
  }

  /** Refuses a list of inline budgets that names a period twice (before anything is written). */
  checkInline(budgets: InlineBudgetDto[] | null | undefined): void {
    const seen = new Set<string>();
    budgets?.forEach((b, i) => {
      if (seen.has(b.period)) throw new InvalidRequestError(`Only one budget per period: ${b.period} is listed twice.`, `budgets[${i}].period`, 'duplicate_budget_period');
      seen.add(b.period);
    });
  }

  /**
   * Makes the scope's budgets the given set, matched by period: a period listed keeps its
   * budget (id and spending) with the new limit, a new one is created, one not listed is
   * deleted. Returns the audit entries of what changed, for the caller to record after its own.
   */
  async replaceInline(scope: BudgetScope, scopeId: string, wanted: InlineBudgetDto[] | null, who: Actor): Promise<AdminChange[]> {
    const current = await this.budgets.list({ scope, scopeId });
    const changes: AdminChange[] = [];
    for (const b of wanted ?? []) {
      const existing = current.find((c) => c.period === b.period);
      if (!existing) {
        const created = BudgetView.of(await this.budgets.create({ scope, scopeId, period: b.period, limitUsd: b.limit_usd }));
        changes.push({ ...who, action: 'budget.create', targetType: 'budget', targetId: created.id, before: null, after: created });
      } else if (existing.limitUsd !== b.limit_usd) {
        const updated = (await this.budgets.updateLimit(existing.id, b.limit_usd))!;
        changes.push({ ...who, action: 'budget.update', targetType: 'budget', targetId: existing.id, before: BudgetView.of(existing), after: BudgetView.of(updated) });
      }
    }
    for (const old of current.filter((c) => !(wanted ?? []).some((b) => b.period === c.period))) {
      await this.budgets.delete(old.id);
      changes.push({ ...who, action: 'budget.delete', targetType: 'budget', targetId: old.id, before: BudgetView.of(old), after: null });
    }
    return changes;
  }

  async recordAll(changes: AdminChange[]): Promise<void> {
    for (const change of changes) await this.audit.record(change);
  }

  /** Every budget on a key's path (key, team, customer) with its current window. */
  async statusForKey(keyId: string, at = new Date()): Promise<BudgetStatusView[]> {
    const key = await this.keys.findById(keyId);
    if (!key) throw new NotFoundError(`No virtual key with id ${keyId}.`, 'key_not_found');
    const path: ScopeRef[] = [{ scope: 'key', scopeId: key.id }];
    const team = key.teamId ? await this.teams.findTeam(key.teamId) : null;
    if (team) path.push({ scope: 'team', scopeId: team.id });
    if (team?.customerId) path.push({ scope: 'customer', scopeId: team.customerId });
    return this.status(path, at);
  }

  /** The budgets of these scopes, each with where its current window stands. */
  async status(path: ScopeRef[], at = new Date()): Promise<BudgetStatusView[]> {
    const budgets = await this.budgets.listForScopes(path);
    const order = (b: BudgetEntity) => path.findIndex((p) => p.scope === b.scope && p.scopeId === b.scopeId);
    budgets.sort((a, b) => order(a) - order(b));
    // The same calendar windows (UTC) the enforcement path counts spend in.
    const windows = budgets.map((b) => ({ budget: b, window: windowAt(b.period, at.getTime()) }));
    const rows = await this.budgets.currentWindows(windows.map(({ budget, window }) => ({ budgetId: budget.id, from: window.start, to: window.end })));
    return windows.map(({ budget, window }) => {
      const row = rows.find((r) => r.budgetId === budget.id);
      const spent = row?.spentUsd ?? 0;
      const reserved = row?.reservedUsd ?? 0;
      const remaining = Math.max(0, round(budget.limitUsd - spent - reserved));
      return {
        budget_id: budget.id,
        scope: budget.scope,
        scope_id: budget.scopeId,
        period: budget.period,
        limit_usd: budget.limitUsd,
        window_start: budget.period === 'lifetime' ? null : window.start.toISOString(),
        window_end: window.end?.toISOString() ?? null,
        spent_usd: spent,
        reserved_usd: reserved,
        remaining_usd: remaining,
        exhausted: remaining <= 0,
      };
    });
  }

  private async find(id: string): Promise<BudgetEntity> {
    const budget = await this.budgets.findById(id);
    if (!budget) throw notFound(id);
    return budget;
  }

  private async assertScopeExists(scope: BudgetScope, id: string): Promise<void> {
    const found = scope === 'key' ? await this.keys.findById(id) : scope === 'team' ? await this.teams.findTeam(id) : await this.teams.findCustomer(id);
    if (!found) throw new InvalidRequestError(`No ${scope === 'key' ? 'virtual key' : scope} with id ${id}.`, 'scope_id', `${scope}_not_found`);
  }
}

const notFound = (id: string) => new NotFoundError(`No budget with id ${id}.`, 'budget_not_found');
/** Amounts are numeric(…, 10) in the store; keep float noise out of the answer. */
const round = (usd: number) => Math.round(usd * 1e10) / 1e10;
