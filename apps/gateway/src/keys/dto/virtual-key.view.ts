import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { VirtualKeyEntity } from '@tokenhub/store';

export class VirtualKeyView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'search-team-prod' }) name: string;
  @ApiProperty({ description: 'The last characters of the key.', example: 'sk-bf-…x7Qa' }) key_hint: string;
  @ApiProperty({ enum: ['active', 'revoked'] }) status: 'active' | 'revoked';
  @ApiProperty() created_at: string;
  @ApiPropertyOptional({ nullable: true, type: String }) revoked_at: string | null;

  static of(k: VirtualKeyEntity): VirtualKeyView {
    return {
      id: k.id,
      name: k.name,
      key_hint: k.keyHint,
      status: k.revokedAt ? 'revoked' : 'active',
      created_at: k.createdAt.toISOString(),
      revoked_at: k.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedVirtualKeyView extends VirtualKeyView {
  @ApiProperty({ description: 'The secret. Shown only in this response; only its hash is stored.', example: 'sk-bf-3kF9…' })
  key: string;
}
