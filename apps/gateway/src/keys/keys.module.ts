import { Module } from '@nestjs/common';
import { TeamsModule } from '../teams/teams.module';
import { VirtualKeysController } from './virtual-keys.controller';
import { VirtualKeysService } from './virtual-keys.service';

@Module({ imports: [TeamsModule], controllers: [VirtualKeysController], providers: [VirtualKeysService] })
export class KeysModule {}
