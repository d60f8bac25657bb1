import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { PermissionDeniedError } from '@tokenhub/common';
import type { Request } from 'express';
import { AuthService } from './auth.service';

/** Admin API routes take the admin key only: no or unknown key is a 401, a virtual key a 403. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const principal = await this.auth.authenticate(context.switchToHttp().getRequest<Request>().headers.authorization);
    if (principal.kind !== 'admin') throw new PermissionDeniedError('This endpoint needs the admin key.', 'admin_key_required');
    return true;
  }
}
