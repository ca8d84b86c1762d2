import type { Principal } from '@gtr/core';
import { seesEveryJob } from '../auth.js';

/** Where an upload's owner is kept in @tus/file-store's info (read back by Uploads.created). */
export const OWNER_METADATA = 'relay_owner';

/** Where the owner of an upload is found. */
export interface OwnerLookups {
  /** The owner of an upload's job (null: none known). */
  ownerOf(id: string): Promise<string | null>;
  /** The owner of a partial upload, from its info (it has no job to ask); null for any other upload. */
  partialOwner(id: string): Promise<string | null>;
}

/**
 * Whether this principal may touch upload `id`: operators and admins every one, a tool only its
 * own (its job's owner; a partial upload has no job, its owner is in its info). No principal, or
 * no owner found: no.
 */
export async function mayUse(
  principal: Principal | undefined,
  id: string,
  owners: OwnerLookups,
): Promise<boolean> {
  if (!principal) return false;
  if (seesEveryJob(principal)) return true;
  const owner = (await owners.ownerOf(id)) ?? (await owners.partialOwner(id));
  return owner === principal.name;
}
