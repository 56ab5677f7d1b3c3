/**
 * SendMessage: idempotent per (sender, clientMessageId): a resend answers the first send
 * (created: false), and the same key for a different message is refused. A message is plaintext
 * (with up to 10 of the sender's own READY media uploaded for messages, bound to this conversation
 * by the media service's AttachMedia) or, with a keyId from the public-key registry, ciphertext the
 * server never reads (and no media: the server would process what the members meant to keep from it).
 */

import type { SendMessageRequest } from "../../../gen/nova/messaging/v1/messaging_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireVerifiedUser } from "../../../platform/rpc/context.ts";
import { uuid, uuidv7 } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { conversationEvent } from "../events.ts";
import {
  isMemberKey,
  type MessageAttachment,
  type MessageRow,
  type NewMessage,
  sendMessageRow,
  sendTargetOf,
} from "../queries.ts";
import { notFound, refuseBlocked, sameMessage } from "../rules.ts";
import { validateAttachments, validateCiphertext, validateClientMessageId, validateText } from "../validation.ts";
import { toMessage } from "../views.ts";

/** The request's content: plaintext (and media), or ciphertext with the id of the key it was made for. */
interface Content {
  text: string;
  ciphertext: Buffer | null;
  keyId: string | null;
  attachments: MessageAttachment[];
}

function contentOf(req: SendMessageRequest): Content {
  const encrypted = req.ciphertext.length > 0 || req.keyId !== "";
  if (!encrypted) {
    const attachments = validateAttachments(req.attachments);
    return { text: validateText(req.text, "text", attachments.length > 0), ciphertext: null, keyId: null, attachments };
  }
  if (req.attachments.length > 0) {
    throw invalid("attachments", "an encrypted message carries no server-processed media (send it as plaintext)");
  }
  if (req.text !== "") throw invalid("text", "must be empty when the message is encrypted");
  const ciphertext = Buffer.from(validateCiphertext(req.ciphertext));
  return { text: "", ciphertext, keyId: uuid("keyId", req.keyId), attachments: [] };
}

export function sendMessage(deps: MessagingDeps): Rpc<"sendMessage"> {
  const { writer } = deps.db;
  return async (req) => {
    const me = requireVerifiedUser().userId;
    const conversationId = uuid("conversationId", req.conversationId);
    const clientMessageId = validateClientMessageId(req.clientMessageId);
    const { text, ciphertext, keyId, attachments } = contentOf(req);
    const answer = (row: MessageRow, created: boolean) => {
      if (!sameMessage(row, text, ciphertext, keyId, attachments)) {
        throw new NovaError("IDEMPOTENCY_KEY_REUSED", "clientMessageId: was used for a different message", {
          field: "clientMessageId",
        });
      }
      return { message: toMessage(row), created };
    };
    // Membership (NOT_FOUND for outsiders) and an earlier send with this key, in one statement: a resend is
    // answered without any further check or lock.
    const conv = await sendTargetOf(writer, conversationId, me, clientMessageId);
    if (!conv) throw notFound();
    if (conv.id !== null) return answer(conv, false);
    // Blocks are asked fresh (no cache) so a block stops the next message. In a group, blocks were
    // applied when members joined; a group message is not refused for a block between two members.
    if (conv.kind === "direct" && conv.other) await refuseBlocked(deps.peers, [conv.other], () => "conversationId");
    // The key must be in the registry and belong to a current member (the sender's or a recipient's).
    if (keyId && !(await isMemberKey(writer, conversationId, keyId))) {
      throw invalid("keyId", "is not the public key of a member of this conversation");
    }
    // Last before the write: the media is the sender's, READY, and now bound to this conversation.
    if (attachments.length)
      await deps.peers.attachMedia(
        attachments.map((a) => a.mediaId),
        conversationId,
      );
    const createdAt = new Date();
    const message: NewMessage = {
      conversationId,
      senderId: me,
      clientMessageId,
      text,
      ciphertext,
      keyId,
      attachments,
      messageId: uuidv7(createdAt.getTime()),
      createdAt,
    };
    const ev = deps.outbox.prepare(
      conversationEvent("MessageSent", me, {
        conversationId,
        messageId: message.messageId,
        senderId: me,
        recipientIds: [], // set by the function: the members the message reached
        text,
        encrypted: ciphertext !== null,
        ...(ciphertext ? { ciphertext: ciphertext.toString("base64"), keyId: keyId as string } : {}),
        clientMessageId,
        createdAt: createdAt.toISOString(),
        ...(attachments.length ? { attachments } : {}),
      }),
    );
    // The lock, the message, the activity positions and MessageSent in one round trip (migration 0002).
    const row = await sendMessageRow(writer, message, ev);
    if (!row || row.outcome === "not_member") throw notFound();
    if (row.outcome === "exists") return answer(row, false);
    deps.outbox.written();
    return { message: toMessage(row), created: true };
  };
}
