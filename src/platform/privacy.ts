/**
 * The private-account rule, in one place for every read path (the gateway's rules steps, content's
 * checks of a post): a private account's posts (with their comments and likes), followers and
 * following are for the account itself and its approved followers only.
 */

/** Whether `viewerId` (undefined: signed out) may not see what `owner` keeps for followers. */
export function closedTo(
  viewerId: string | undefined,
  owner: { id: string; isPrivate: boolean } | undefined,
  viewerFollows: boolean,
): boolean {
  return owner?.isPrivate === true && owner.id !== viewerId && !viewerFollows;
}
