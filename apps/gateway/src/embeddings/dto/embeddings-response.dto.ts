import { ApiProperty } from '@nestjs/swagger';

/** Response shapes, for the API documentation. */
class Embedding {
  @ApiProperty({ example: 'embedding' }) object: string;
  @ApiProperty({ example: 0 }) index: number;
  @ApiProperty({
    description: 'The vector: numbers, or with `encoding_format: base64` a base64 string of little-endian float32s.',
    oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }],
    example: [0.0023064255, -0.009327292, 0.015797347],
  })
  embedding: number[] | string;
}

class EmbeddingsUsage {
  @ApiProperty({ example: 8 }) prompt_tokens: number;
  @ApiProperty({ example: 8 }) total_tokens: number;
}

export class EmbeddingsResponse {
  @ApiProperty({ example: 'list' }) object: string;
  @ApiProperty({ type: [Embedding] }) data: Embedding[];
  @ApiProperty({ example: 'text-embedding-3-small' }) model: string;
  @ApiProperty({ type: EmbeddingsUsage, description: 'Zero when the provider does not report token counts (Gemini API).' }) usage: EmbeddingsUsage;
}
