import { DataSource, Repository } from 'typeorm';
import { CustomerEntity } from '../entities/customer.entity';
import { TeamEntity } from '../entities/team.entity';

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
}
