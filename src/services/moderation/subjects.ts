/**
 * What a report names, checked with its owner: the subject exists (NOT_FOUND naming `subjectId`
 * otherwise), whose it is, and for messages, that the reporter may read every one they attach,
 * all of one conversation. Reporting one's own subject is refused.
 */
import { invalid, NovaError } from "../../platform/errors.ts";
import type { ModerationDeps, ReadableMessage } from "./deps.ts";
import type { AttachedMessageRow } from "./queries.ts";
import type { MessageInput, ReportInput } from "./validation.ts";

export interface ResolvedSubject {
  /** The account the subject belongs to. */
  userId: string;
  messages: AttachedMessageRow[];
}

const notFound = (what: string) => new NovaError("NOT_FOUND", `${what} not found`, { field: "subjectId" });

export async function resolveSubject(
  deps: ModerationDeps,
  input: ReportInput,
  reporterId: string,
): Promise<ResolvedSubject> {
  const s = await owner(deps, input);
  if (s.userId === reporterId) {
    throw new NovaError("FORBIDDEN", "you cannot report your own account or content", { field: "subjectId" });
  }
  return s;
}

async function owner(deps: ModerationDeps, input: ReportInput): Promise<ResolvedSubject> {
  const { subjects } = deps;
  switch (input.kind) {
    case "post": {
      const author = await subjects.postAuthor(input.subjectId);
      if (!author) throw notFound("post");
      return { userId: author, messages: [] };
    }
    case "comment": {
      const author = await subjects.commentAuthor(input.subjectId);
      if (!author) throw notFound("comment");
      return { userId: author, messages: [] };
    }
    case "account":
      if (!(await subjects.userExists(input.subjectId))) throw notFound("user");
      return { userId: input.subjectId, messages: [] };
    case "message":
      return attachedMessages(deps, input.subjectId, input.messages);
  }
}

/** The attached messages as kept: the stored text of a plain one, the reporter's reading of an encrypted one. */
async function attachedMessages(
  deps: ModerationDeps,
  subjectId: string,
  inputs: MessageInput[],
): Promise<ResolvedSubject> {
  const readable = new Map<string, ReadableMessage>(
    (await deps.subjects.readableMessages(inputs.map((m) => m.messageId))).map((m) => [m.id, m]),
  );
  const subject = readable.get(subjectId);
  if (!subject) throw notFound("message");
  const messages = inputs.map((m, i) => {
    const found = readable.get(m.messageId);
    if (!found) throw new NovaError("NOT_FOUND", "message not found", { field: `messages[${i}].messageId` });
    if (found.conversationId !== subject.conversationId) {
      throw invalid(`messages[${i}].messageId`, "must be a message of the reported message's conversation");
    }
    if (found.encrypted && m.text === "") {
      throw invalid(`messages[${i}].text`, "is required for an encrypted message (its text as you read it)");
    }
    return {
      message_id: found.id,
      sender_id: found.senderId,
      text: found.encrypted ? m.text : found.text,
      encrypted: found.encrypted,
      sent_at: found.createdAt,
    };
  });
  return { userId: subject.senderId, messages };
}
