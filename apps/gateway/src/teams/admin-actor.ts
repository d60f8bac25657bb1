import type { adminActor } from '../auth/admin.guard';

/** Who made an admin change and in which request, for the audit log (see `adminActor`). */
export type Actor = ReturnType<typeof adminActor>;
