import { Module } from '@nestjs/common';
import { BudgetsController } from './budgets.controller';
import { BudgetsService } from './budgets.service';
import { CustomersController } from './customers.controller';
import { TeamsController } from './teams.controller';
import { TeamsService } from './teams.service';

/** Customers, teams and budgets: the admin API for the levels policies apply at. */
@Module({
  controllers: [CustomersController, TeamsController, BudgetsController],
  providers: [TeamsService, BudgetsService],
  exports: [TeamsService, BudgetsService],
})
export class TeamsModule {}
