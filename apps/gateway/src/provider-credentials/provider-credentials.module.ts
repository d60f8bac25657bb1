import { Module } from '@nestjs/common';
import { CredentialSyncService } from './credential-sync.service';
import { ProviderCredentialsController } from './provider-credentials.controller';
import { ProviderCredentialsService } from './provider-credentials.service';

@Module({ controllers: [ProviderCredentialsController], providers: [ProviderCredentialsService, CredentialSyncService] })
export class ProviderCredentialsModule {}
