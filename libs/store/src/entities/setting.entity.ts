import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Small pieces of state the gateway keeps about itself (the generated admin key's hash). */
@Entity({ name: 'settings' })
export class SettingEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'text' })
  value: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
