import { DataSource, Repository } from 'typeorm';
import { CustomerEntity } from '../entities/customer.entity';
import type { LimitsColumns } from '../entities/limits.embedded';
import { TeamEntity } from '../entities/team.entity';

/** The fields of a customer or team the admin API sets; absent limits are left as they are. */
export interface CustomerFields {
  name?: string;
  limits?: Partial<LimitsColumns>;
}

export interface TeamFields extends CustomerFields {
  customerId?: string | null;
}

/** Teams and the customers they belong to. */
export class TeamRepository {
  readonly teams: Repository<TeamEntity>;
  readonly customers: Repository<CustomerEntity>;

  constructor(dataSource: DataSource) {
    this.teams = dataSource.getRepository(TeamEntity);
    this.customers = dataSource.getRepository(CustomerEntity);
  }

  findTeam(id: string): Promise<TeamEntity | null> {
    return this.teams.findOneBy({ id });
  }

  findCustomer(id: string): Promise<CustomerEntity | null> {
    return this.customers.findOneBy({ id });
  }

  async createCustomer(fields: CustomerFields & { name: string }): Promise<CustomerEntity> {
    const result = await this.customers.createQueryBuilder().insert().values({ name: fields.name, limits: fields.limits ?? {} }).returning('id').execute();
    return (await this.findCustomer((result.identifiers[0] as { id: string }).id))!;
  }

  /** Sets the given fields; returns the customer as it now is, or null when unknown. */
  async updateCustomer(id: string, fields: CustomerFields): Promise<CustomerEntity | null> {
    const set = changes(fields);
    if (Object.keys(set).length > 0) await this.customers.update({ id }, set);
    return this.findCustomer(id);
  }

  listCustomers(): Promise<CustomerEntity[]> {
    return this.customers.find({ order: { createdAt: 'DESC', id: 'ASC' } });
  }

  async createTeam(fields: TeamFields & { name: string }): Promise<TeamEntity> {
    const result = await this.teams
      .createQueryBuilder()
      .insert()
      .values({ name: fields.name, customerId: fields.customerId ?? null, limits: fields.limits ?? {} })
      .returning('id')
      .execute();
    return (await this.findTeam((result.identifiers[0] as { id: string }).id))!;
  }

  async updateTeam(id: string, fields: TeamFields): Promise<TeamEntity | null> {
    const set: Record<string, unknown> = changes(fields);
    if (fields.customerId !== undefined) set.customerId = fields.customerId;
    if (Object.keys(set).length > 0) await this.teams.update({ id }, set);
    return this.findTeam(id);
  }

  listTeams(customerId?: string): Promise<TeamEntity[]> {
    return this.teams.find({ where: customerId ? { customerId } : {}, order: { createdAt: 'DESC', id: 'ASC' } });
  }
}

function changes(fields: CustomerFields): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  if (fields.name !== undefined) set.name = fields.name;
  const limits = Object.fromEntries(Object.entries(fields.limits ?? {}).filter(([, v]) => v !== undefined));
  if (Object.keys(limits).length > 0) set.limits = limits;
  return set;
}
