import { Injectable } from '@nestjs/common';
import { InvalidRequestError, NotFoundError } from '@tokenhub/common';
import { CustomerEntity, TeamEntity, TeamRepository } from '@tokenhub/store';
import { AdminAuditService } from '../audit/admin-audit.service';
import { AuthService } from '../auth/auth.service';
import type { Actor } from './admin-actor';
import { BudgetsService } from './budgets.service';
import { CreateCustomerDto, CustomerView, UpdateCustomerDto } from './dto/customer.dto';
import { limitsOf } from './dto/policy.dto';
import { CreateTeamDto, TeamView, UpdateTeamDto } from './dto/team.dto';

/**
 * Customers and teams through the admin API. A change may alter the policies of any key
 * under it, so every change drops the whole key cache (`AuthService.forgetAll`).
 */
@Injectable()
export class TeamsService {
  constructor(
    private readonly teams: TeamRepository,
    private readonly budgets: BudgetsService,
    private readonly audit: AdminAuditService,
    private readonly auth: AuthService,
  ) {}

  async createCustomer(dto: CreateCustomerDto, who: Actor): Promise<CustomerView> {
    this.budgets.checkInline(dto.budgets);
    const customer = await this.teams.createCustomer({ name: dto.name, limits: limitsOf(dto) });
    const budgetChanges = await this.budgets.replaceInline('customer', customer.id, dto.budgets ?? null, who);
    const view = await this.customerView(customer);
    await this.audit.record({ ...who, action: 'customer.create', targetType: 'customer', targetId: customer.id, before: null, after: view });
    await this.budgets.recordAll(budgetChanges);
    this.auth.forgetAll();
    return view;
  }

  async listCustomers(): Promise<CustomerView[]> {
    const customers = await this.teams.listCustomers();
    const budgets = await this.budgets.viewsFor('customer', customers.map((c) => c.id));
    return customers.map((c) => CustomerView.of(c, budgets.get(c.id) ?? []));
  }

  async getCustomer(id: string): Promise<CustomerView> {
    return this.customerView(await this.findCustomer(id));
  }

  async updateCustomer(id: string, dto: UpdateCustomerDto, who: Actor): Promise<CustomerView> {
    this.budgets.checkInline(dto.budgets);
    const before = await this.customerView(await this.findCustomer(id));
    const updated = await this.teams.updateCustomer(id, { name: dto.name, limits: limitsOf(dto) });
    if (!updated) throw customerNotFound(id);
    const budgetChanges = dto.budgets === undefined ? [] : await this.budgets.replaceInline('customer', id, dto.budgets, who);
    const after = await this.customerView(updated);
    await this.audit.record({ ...who, action: 'customer.update', targetType: 'customer', targetId: id, before, after });
    await this.budgets.recordAll(budgetChanges);
    this.auth.forgetAll();
    return after;
  }

  async createTeam(dto: CreateTeamDto, who: Actor): Promise<TeamView> {
    this.budgets.checkInline(dto.budgets);
    if (dto.customer_id) await this.assertCustomer(dto.customer_id);
    const team = await this.teams.createTeam({ name: dto.name, customerId: dto.customer_id ?? null, limits: limitsOf(dto) });
    const budgetChanges = await this.budgets.replaceInline('team', team.id, dto.budgets ?? null, who);
    const view = await this.teamView(team);
    await this.audit.record({ ...who, action: 'team.create', targetType: 'team', targetId: team.id, before: null, after: view });
    await this.budgets.recordAll(budgetChanges);
    this.auth.forgetAll();
    return view;
  }

  async listTeams(customerId?: string): Promise<TeamView[]> {
    const teams = await this.teams.listTeams(customerId);
    const budgets = await this.budgets.viewsFor('team', teams.map((t) => t.id));
    return teams.map((t) => TeamView.of(t, budgets.get(t.id) ?? []));
  }

  async getTeam(id: string): Promise<TeamView> {
    return this.teamView(await this.findTeam(id));
  }

  async updateTeam(id: string, dto: UpdateTeamDto, who: Actor): Promise<TeamView> {
    this.budgets.checkInline(dto.budgets);
    const before = await this.teamView(await this.findTeam(id));
    if (dto.customer_id) await this.assertCustomer(dto.customer_id);
    const updated = await this.teams.updateTeam(id, { name: dto.name, customerId: dto.customer_id, limits: limitsOf(dto) });
    if (!updated) throw teamNotFound(id);
    const budgetChanges = dto.budgets === undefined ? [] : await this.budgets.replaceInline('team', id, dto.budgets, who);
    const after = await this.teamView(updated);
    await this.audit.record({ ...who, action: 'team.update', targetType: 'team', targetId: id, before, after });
    await this.budgets.recordAll(budgetChanges);
    this.auth.forgetAll();
    return after;
  }

  /** Refuses a team id that does not exist (for a key's `team_id`). */
  async assertTeam(id: string): Promise<void> {
    if (!(await this.teams.findTeam(id))) throw new InvalidRequestError(`No team with id ${id}.`, 'team_id', 'team_not_found');
  }

  private async assertCustomer(id: string): Promise<void> {
    if (!(await this.teams.findCustomer(id))) throw new InvalidRequestError(`No customer with id ${id}.`, 'customer_id', 'customer_not_found');
  }

  private async findCustomer(id: string): Promise<CustomerEntity> {
    const customer = await this.teams.findCustomer(id);
    if (!customer) throw customerNotFound(id);
    return customer;
  }

  private async findTeam(id: string): Promise<TeamEntity> {
    const team = await this.teams.findTeam(id);
    if (!team) throw teamNotFound(id);
    return team;
  }

  private async customerView(c: CustomerEntity): Promise<CustomerView> {
    return CustomerView.of(c, (await this.budgets.viewsFor('customer', [c.id])).get(c.id) ?? []);
  }

  private async teamView(t: TeamEntity): Promise<TeamView> {
    return TeamView.of(t, (await this.budgets.viewsFor('team', [t.id])).get(t.id) ?? []);
  }
}

const customerNotFound = (id: string) => new NotFoundError(`No customer with id ${id}.`, 'customer_not_found');
const teamNotFound = (id: string) => new NotFoundError(`No team with id ${id}.`, 'team_not_found');
