import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export const BUDGET_SCOPES = ['key', 'team', 'customer'] as const;
export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export const BUDGET_PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'lifetime'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

const numeric = { to: (v: number) => v, from: (v: string) => Number(v) };

/** A spending cap in USD on a key, a team or a customer, per calendar window in UTC. */
@Entity({ name: 'budgets' })
@Index('ix_budgets_scope', ['scope', 'scopeId'])
export class BudgetEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ type: 'varchar', length: 20 })
  scope: BudgetScope;

  @Column({ name: 'scope_id', type: 'uuid' })
  scopeId: string;

  @Column({ type: 'varchar', length: 20 })
  period: BudgetPeriod;

  @Column({ name: 'limit_usd', type: 'numeric', precision: 18, scale: 6, transformer: numeric })
  limitUsd: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/**
 * What a budget's window has spent and holds reserved. One row per (budget, window
 * start): a new window is a new row, so a rollover happens exactly once, whichever
 * replica gets there first.
 */
@Entity({ name: 'budget_windows' })
export class BudgetWindowEntity {
  @PrimaryColumn({ name: 'budget_id', type: 'uuid' })
  budgetId: string;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz' })
  windowStart: Date;

  @Column({ name: 'spent_usd', type: 'numeric', precision: 20, scale: 10, default: 0, transformer: numeric })
  spentUsd: number;

  @Column({ name: 'reserved_usd', type: 'numeric', precision: 20, scale: 10, default: 0, transformer: numeric })
  reservedUsd: number;
}
