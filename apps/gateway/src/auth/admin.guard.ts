import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { PermissionDeniedError } from '@tokenhub/common';
import type { Request, Response } from 'express';
import { AuthService } from './auth.service';

/** Admin API routes take the admin key only: no or unknown key is a 401, a virtual key a 403. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const principal = await this.auth.authenticate(http.getRequest<Request>().headers.authorization);
    if (principal.kind !== 'admin') throw new PermissionDeniedError('This endpoint needs the admin key.', 'admin_key_required');
    // For the audit log: who made the change (see `adminActor`).
    http.getResponse<Response>().locals.principal = principal;
    return true;
  }
}

/** The actor and request id of an admin request, for the audit log. */
export function adminActor(res: Response): { actor: string; requestId: string | null } {
  const principal = res.locals.principal as { id: string } | undefined;
  return { actor: principal?.id ?? 'admin', requestId: (res.locals.requestId as string | undefined) ?? null };
}
