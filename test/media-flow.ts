/**
 * The media steps the end-to-end tests share, in either mode: an upload declared over GraphQL, its
 * bytes sent where createUpload said (the gateway's route with the bearer token, or a presigned PUT
 * straight to the bucket), completed, and polled until READY; and a group conversation with a
 * message carrying media.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { uuidv7 } from "../src/platform/validate.ts";
import { gql } from "./helpers.ts";

export async function eventually<T>(what: string, get: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}

export const jpegOf = (width: number, height: number, background = "#336699") =>
  sharp({ create: { width, height, channels: 3, background } })
    .jpeg()
    .toBuffer();

/** Uploads `bytes` as `purpose` media of the token's user and waits until it is READY; answers its id. */
export async function uploadReady(url: string, token: string, bytes: Buffer, purpose: "POST" | "MESSAGE") {
  const created = await gql(
    url,
    `mutation($input: CreateUploadInput!) { createUpload(input: $input) { media { id } upload { url headers { name value } } } }`,
    { token, variables: { input: { kind: "IMAGE", purpose, contentType: "image/jpeg", byteSize: bytes.length } } },
  );
  assert.equal(created.body.errors, undefined, JSON.stringify(created.body.errors));
  const { media, upload } = created.body.data.createUpload;
  const headers: Record<string, string> = Object.fromEntries(
    upload.headers.map((h: { name: string; value: string }) => [h.name, h.value]),
  );
  const direct = !upload.url.startsWith("/");
  const target = direct ? upload.url : `${new URL(url).origin}${upload.url}`;
  const sent = await fetch(target, {
    method: "PUT",
    headers: direct ? headers : { ...headers, authorization: `Bearer ${token}` },
    body: bytes,
  });
  assert.ok(sent.ok, `${sent.status} ${await sent.text()}`);
  const done = await gql(url, `mutation($id: ID!) { completeUpload(id: $id) { id } }`, {
    token,
    variables: { id: media.id },
  });
  assert.equal(done.body.errors, undefined, JSON.stringify(done.body.errors));
  await eventually(`media ${media.id} READY`, async () => {
    const r = await gql(url, `query($id: ID!) { media(id: $id) { state } }`, { token, variables: { id: media.id } });
    const state = r.body.data?.media?.state;
    assert.notEqual(state, "REJECTED");
    return state === "READY" ? true : undefined;
  });
  return media.id as string;
}

export async function group(url: string, token: string, memberIds: string[]): Promise<string> {
  const r = await gql(url, `mutation($m: [ID!]!) { createConversation(memberIds: $m, group: true) { id } }`, {
    token,
    variables: { m: memberIds },
  });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  return r.body.data.createConversation.id;
}

export const SEND = `mutation($c: ID!, $t: String!, $k: String!, $a: [MessageAttachmentInput!], $x: String, $key: ID) {
  sendMessage(conversationId: $c, text: $t, clientMessageId: $k, attachments: $a, ciphertext: $x, keyId: $key) {
    id media { id alt variants { name url width } }
  }
}`;

/** The conversation's messages as `token`'s user sees them, with their media. */
export const MESSAGES = `query($c: ID!) { conversation(id: $c) { messages(first: 20) { edges { node {
  id text media { id alt variants { name url width } }
} } } } }`;

export type SeenMedia = { id: string; alt: string | null; variants: { name: string; url: string; width: number }[] };

/** A UUIDv7 as if made at `ms` (uuidv7() itself never goes back in time): a media id of that age. */
export function uuidv7At(ms: number): string {
  const stamp = ms.toString(16).padStart(12, "0");
  return `${stamp.slice(0, 8)}-${stamp.slice(8)}${uuidv7().slice(13)}`;
}
