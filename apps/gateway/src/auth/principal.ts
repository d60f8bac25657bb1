/** Who is calling, once the bearer token has been checked. */
export type Principal =
  | { kind: 'admin'; id: 'admin' }
  | { kind: 'virtual_key'; id: string; keyId: string; name: string };

export const principalId = (p: Principal | undefined) => p?.id ?? 'anonymous';
