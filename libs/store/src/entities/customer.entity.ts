import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { LimitsColumns } from './limits.embedded';

/** The organisation teams belong to; its budgets and limits cover all of its teams. */
@Entity({ name: 'customers' })
export class CustomerEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column(() => LimitsColumns, { prefix: false })
  limits: LimitsColumns;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
