import { Module } from '@nestjs/common';
import { EmbeddingsService } from './embeddings.service';

/** `POST /v1/embeddings`, and the embeddings service TokenHub's own features (the response cache) call. */
@Module({ providers: [EmbeddingsService], exports: [EmbeddingsService] })
export class EmbeddingsModule {}
