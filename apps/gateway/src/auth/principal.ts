import type { LimitsColumns } from '@tokenhub/store';

/** A level whose budgets and limits apply to a request: the key, its team, the team's customer. */
export interface PolicyScope {
  scope: 'key' | 'team' | 'customer';
  id: string;
  limits: LimitsColumns;
}

/** Who is calling, once the bearer token has been checked. */
export type Principal =
  | { kind: 'admin'; id: 'admin' }
  | {
      kind: 'virtual_key';
      /** `key:<id>` */
      id: string;
      keyId: string;
      name: string;
      teamId: string | null;
      customerId: string | null;
      /** Key first, then team, then customer: every level whose policies apply. */
      scopes: PolicyScope[];
    }
  | {
      kind: 'platform_token';
      /** `jwt:<subject>` */
      id: string;
      subject: string;
      teamId: string | null;
      customerId: string | null;
      scopes: PolicyScope[];
    };

export const principalId = (p: Principal | undefined) => p?.id ?? 'anonymous';
