/** How identity shows a user (the User message). */
import { create } from "@bufbuild/protobuf";
import { type User, UserSchema } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { PublicProfile, UserRow } from "./queries.ts";

/** The User message: the email only for its owner (and only from a full row). */
export function toUser(row: UserRow | PublicProfile, viewerId: string | undefined): User {
  return create(UserSchema, {
    id: row.id,
    username: row.username,
    email: "email" in row && viewerId === row.id ? row.email : "",
    emailVerified: "email" in row && viewerId === row.id && row.email_verified_at !== null,
    showSensitiveMedia: "email" in row && viewerId === row.id && row.show_sensitive_media,
    displayName: row.display_name,
    bio: row.bio,
    avatarUrl: row.avatar_url,
    createdAt: typeof row.created_at === "string" ? row.created_at : row.created_at.toISOString(),
    followerCount: row.follower_count,
    followingCount: row.following_count,
    deletionScheduledAt:
      "email" in row && viewerId === row.id && row.deletion_scheduled_at ? row.deletion_scheduled_at.toISOString() : "",
    isPrivate: row.is_private === true,
  });
}
