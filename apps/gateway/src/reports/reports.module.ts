import { Module } from '@nestjs/common';
import { TeamsModule } from '../teams/teams.module';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';

@Module({ imports: [TeamsModule], controllers: [ReportsController], providers: [ReportsService] })
export class ReportsModule {}
