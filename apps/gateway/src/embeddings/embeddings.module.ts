import { Module } from '@nestjs/common';
import { EmbeddingsController } from './embeddings.controller';
import { EmbeddingsService } from './embeddings.service';

/** `POST /v1/embeddings`, and the embeddings service TokenHub's own features (the response cache) call. */
@Module({ controllers: [EmbeddingsController], providers: [EmbeddingsService], exports: [EmbeddingsService] })
export class EmbeddingsModule {}
