import { ApiProperty } from '@nestjs/swagger';
import type { VirtualKeyEntity } from '@tokenhub/store';
import { BudgetView } from '../../teams/dto/budget.dto';
import { LimitsView } from '../../teams/dto/policy.dto';

export const KEY_STATUSES = ['active', 'inactive', 'expired', 'revoked'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

export class VirtualKeyView extends LimitsView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'search-team-prod' }) name: string;
  @ApiProperty({ description: 'The last characters of the key.', example: 'sk-bf-…x7Qa' }) key_hint: string;
  @ApiProperty({ enum: KEY_STATUSES, description: 'revoked, else expired, else inactive, else active.' }) status: KeyStatus;
  @ApiProperty({ description: 'false: deactivated (refused until activated again).', example: true }) active: boolean;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) team_id: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2027-01-01T00:00:00.000Z' }) expires_at: string | null;
  @ApiProperty({ type: [BudgetView], description: 'The key\'s own budgets (its team\'s and customer\'s are on those).' }) budgets: BudgetView[];
  @ApiProperty({ example: '2026-11-01T09:30:00.000Z' }) created_at: string;
  @ApiProperty({ nullable: true, type: String, description: 'When the secret was last replaced.' }) rotated_at: string | null;
  @ApiProperty({ nullable: true, type: String }) revoked_at: string | null;

  static of(k: VirtualKeyEntity, budgets: BudgetView[], now = Date.now()): VirtualKeyView {
    const status: KeyStatus = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt.getTime() <= now ? 'expired' : k.active ? 'active' : 'inactive';
    return {
      id: k.id,
      name: k.name,
      key_hint: k.keyHint,
      status,
      active: k.active,
      team_id: k.teamId,
      expires_at: k.expiresAt?.toISOString() ?? null,
      ...LimitsView.fromColumns(k.limits),
      budgets,
      created_at: k.createdAt.toISOString(),
      rotated_at: k.rotatedAt?.toISOString() ?? null,
      revoked_at: k.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedVirtualKeyView extends VirtualKeyView {
  @ApiProperty({ description: 'The secret. Shown only in this response; only its hash is stored.', example: 'sk-bf-3kF9…' })
  key: string;
}
