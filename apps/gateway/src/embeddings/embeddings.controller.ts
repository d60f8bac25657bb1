import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiErrorResponses, OpenAIErrorResponse } from '../common/api-error-responses';
import { EmbeddingsRequestDto } from './dto/embeddings-request.dto';
import { EmbeddingsResponse } from './dto/embeddings-response.dto';
import { EmbeddingsService } from './embeddings.service';

@ApiTags('embeddings')
@ApiBearerAuth()
@Controller('v1')
export class EmbeddingsController {
  constructor(private readonly embeddings: EmbeddingsService) {}

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create embeddings',
    description:
      'OpenAI-compatible, for every provider with an embeddings API: OpenAI and OpenAI-compatible servers, Azure OpenAI (the deployment name), ' +
      'Gemini, Vertex AI, Cohere and Bedrock (Titan v2 and Cohere embed models). Anthropic has none (400). ' +
      'Same keys, allowed models, rate limits and budgets as chat; every request is recorded in the usage log.',
  })
  @ApiBody({
    type: EmbeddingsRequestDto,
    examples: {
      one: { summary: 'One text', value: { model: 'openai/text-embedding-3-small', input: 'The food was delicious and the waiter was friendly.' } },
      many: { summary: 'Several texts, shortened vectors', value: { model: 'gemini/gemini-embedding-001', input: ['first text', 'second text'], dimensions: 256 } },
      base64: { summary: 'Base64 vectors', value: { model: 'cohere/embed-v4.0', input: ['hello'], encoding_format: 'base64' } },
    },
  })
  @ApiOkResponse({ type: EmbeddingsResponse, description: 'One embedding per input, in input order.' })
  @ApiResponse({ status: 402, description: 'A budget cannot cover the request (`budget_exceeded`).', schema: { $ref: getSchemaPath(OpenAIErrorResponse) } })
  @ApiResponse({ status: 403, description: 'The model is not allowed for the key, its team or customer (`model_not_allowed`).', schema: { $ref: getSchemaPath(OpenAIErrorResponse) } })
  @ApiErrorResponses(400, 401, 413, 429, 500, 502, 503, 504)
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.embeddings.handle(req, res);
  }
}
