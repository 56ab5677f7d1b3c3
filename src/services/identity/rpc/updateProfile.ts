/** UpdateProfile: the fields given change; the row and its ProfileUpdated commit together. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, UpdateProfileResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { profilePayload, userEvent, writeUserEvents } from "../events.ts";
import { updateProfileFields } from "../queries.ts";
import { toUser } from "../users.ts";
import { validateAvatarUrl, validateBio, validateDisplayName } from "../validation.ts";

export function updateProfile(id: Identity): ServiceImpl<typeof IdentityService>["updateProfile"] {
  return async (req) => {
    const user = requireUser();
    const set: Parameters<typeof updateProfileFields>[2] = {};
    if (req.displayName !== undefined) set.display_name = validateDisplayName(req.displayName);
    if (req.bio !== undefined) set.bio = validateBio(req.bio);
    if (req.avatarUrl !== undefined) set.avatar_url = validateAvatarUrl(req.avatarUrl);
    if (req.showSensitiveMedia !== undefined) set.show_sensitive_media = req.showSensitiveMedia;
    if (req.isPrivate !== undefined) set.is_private = req.isPrivate;
    const row = await id.writer.transaction().execute(async (trx) => {
      const row = await updateProfileFields(trx, user.userId, set);
      if (row) await writeUserEvents(id.outbox, trx, userEvent("ProfileUpdated", profilePayload(row)));
      return row;
    });
    if (!row) throw new NovaError("NOT_FOUND", "user not found");
    await id.profiles?.invalidate([row.id]);
    return create(UpdateProfileResponseSchema, { user: toUser(row, user.userId) });
  };
}
