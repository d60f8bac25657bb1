import { Global, Module } from '@nestjs/common';
import { EmbeddingsModule } from '../embeddings/embeddings.module';
import { CacheAdminController } from './cache-admin.controller';
import { CacheAdminService } from './cache-admin.service';
import { CacheWriter } from './cache-writer.service';
import { ResponseCacheService } from './response-cache.service';

/** The response cache (`prompt_cache_key`): lookups and replays for the chat path, writes off the hot path, the admin purge. */
@Global()
@Module({
  imports: [EmbeddingsModule],
  controllers: [CacheAdminController],
  providers: [ResponseCacheService, CacheWriter, CacheAdminService],
  exports: [ResponseCacheService, CacheWriter],
})
export class CacheModule {}
