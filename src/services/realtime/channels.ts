/**
 * The real-time contract between the `realtime` module (events -> pushes)
 * and the gateways (pushes -> GraphQL subscriptions): bus channels and the
 * push messages on them. A push names what happened; the gateway hydrates it
 * for the subscriber through the same batch RPCs and rules as every read.
 */
export const userChannel = (userId: string) => `nova:rt:user:${userId}`;
export const authorChannel = (userId: string) => `nova:rt:author:${userId}`;

export type Push =
  /** A message in a conversation the user is a member of (the sender's other sessions get it too). */
  | {
      kind: "message";
      messageId: string;
      conversationId: string;
      senderId: string;
      text: string;
      encrypted: boolean;
      ciphertext: string;
      keyId: string;
      clientMessageId: string;
      createdAt: string;
      /** Uploaded media of the message (absent when it has none). */
      attachments?: { mediaId: string; alt: string }[];
    }
  /** A notification was created for the user, or its group gained an actor. */
  | { kind: "notification"; notificationId: string }
  /** A new post by the author (channel: the author's). */
  | { kind: "post"; postId: string; authorId: string }
  /** The user started or stopped following `targetId` (feed subscriptions follow it live). */
  | { kind: "follow"; targetId: string; following: boolean };

export function parsePush(raw: string): Push | undefined {
  try {
    const v = JSON.parse(raw) as Push;
    return v && typeof v === "object" && typeof v.kind === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}
