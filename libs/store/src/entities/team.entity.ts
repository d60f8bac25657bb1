import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { LimitsColumns } from './limits.embedded';

/** A group of keys (and of platform-token subjects); belongs to a customer. */
@Entity({ name: 'teams' })
export class TeamEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Index('ix_teams_customer_id')
  @Column({ name: 'customer_id', type: 'uuid', nullable: true })
  customerId: string | null;

  @Column(() => LimitsColumns, { prefix: false })
  limits: LimitsColumns;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
