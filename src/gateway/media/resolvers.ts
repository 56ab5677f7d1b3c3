/**
 * The media part of the gateway: createUpload, completeUpload and media(id) over the media
 * service, and the new fields of `Media` (an uploaded item; the old client-URL items of posts have
 * none of them: null, or [] and false).
 */
import type { IResolvers } from "mercurius";
import type { Media as MediaMsg } from "../../gen/nova/media/v1/media_pb.ts";
import { invalid } from "../../platform/errors.ts";
import { uuid } from "../../platform/validate.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { messageMediaKey } from "../loaders.ts";
import type { MessageView } from "../messaging/views.ts";
import { call, type PostView } from "../views.ts";

export interface MediaView {
  id: string;
  kind: string;
  state: string;
  /** The re-encoded original ("" until READY): the old `url` field, for clients that know only it. */
  url: string;
  mimeType: string;
  width: number;
  height: number;
  variants: { name: string; url: string; width: number; height: number; contentType: string }[];
  blurhash: string | null;
  alt: string | null;
  animated: boolean;
  duration: number | null;
  rejectReason: string | null;
  rejectField: string | null;
}

export function mediaView(m: MediaMsg, alt: string | null = null): MediaView {
  const original = m.variants.find((v) => v.name === "original");
  return {
    id: m.id,
    kind: m.kind,
    state: m.state,
    url: original?.url ?? "",
    mimeType: original?.contentType ?? m.contentType,
    width: m.width,
    height: m.height,
    variants: m.variants.map((v) => ({
      name: v.name,
      url: v.url,
      width: v.width,
      height: v.height,
      contentType: v.contentType,
    })),
    blurhash: m.blurhash || null,
    alt,
    animated: m.animated,
    duration: m.durationMs ? m.durationMs / 1000 : null,
    rejectReason: m.rejectReason || null,
    rejectField: m.rejectField || null,
  };
}

const mediaId = (value: string, field: string) => {
  try {
    return uuid(field, value, "a media id");
  } catch (err) {
    throw toGraphQLError(err);
  }
};

type CreateUploadInput = { kind: string; contentType: string; byteSize: number; purpose?: string | null };

export const mediaResolvers = {
  Query: {
    media: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const id = mediaId(args.id, "id");
      const res = await call(ctx, () => ctx.deps.media.getMedia({ mediaIds: [id] }));
      return res.media[0] ? mediaView(res.media[0]) : null;
    },
  },
  Mutation: {
    createUpload: async (_root: unknown, { input }: { input: CreateUploadInput }, ctx: GatewayContext) => {
      requireViewer(ctx);
      if (input.byteSize < 0) throw toGraphQLError(invalid("byteSize", "must not be negative"));
      const res = await call(ctx, () =>
        ctx.deps.media.createUpload({
          kind: input.kind,
          purpose: input.purpose ?? "POST",
          contentType: input.contentType,
          byteSize: BigInt(input.byteSize),
        }),
      );
      const t = res.target;
      return {
        media: res.media ? mediaView(res.media) : null,
        upload: {
          url: t?.url ?? "",
          method: t?.method ?? "PUT",
          headers: Object.entries(t?.headers ?? {}).map(([name, value]) => ({ name, value })),
          expiresAt: t?.expiresAt ?? "",
        },
      };
    },
    completeUpload: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const id = mediaId(args.id, "id");
      const res = await call(ctx, () => ctx.deps.media.completeUpload({ mediaId: id }));
      return res.media ? mediaView(res.media) : null;
    },
  },
  Post: {
    /**
     * Uploaded media (hydrated through the media loader: one GetMedia per page, whatever the number
     * of posts and items) when the post has them, else its old client-URL items. Media that is gone
     * (not READY any more) is left out.
     */
    media: async (p: PostView, _args: unknown, ctx: GatewayContext) => {
      if (p.attachments.length === 0) return p.media;
      const found = await call(ctx, () => ctx.loaders.media.loadMany(p.attachments.map((a) => a.mediaId)));
      return p.attachments.flatMap((a, i) => {
        const m = found[i];
        return m && !(m instanceof Error) && m.state === "READY" ? [mediaView(m, a.alt || null)] : [];
      });
    },
  },
  Message: {
    /**
     * Through the message-media loader, keyed by conversation and media id: one GetMedia per page
     * whatever the number of messages and items. The message came from messaging for this viewer (a
     * current member), so its conversation is the one media answers private media through.
     */
    media: async (m: MessageView, _args: unknown, ctx: GatewayContext) => {
      if (m.attachments.length === 0) return [];
      const found = await call(ctx, () =>
        ctx.loaders.messageMedia.loadMany(m.attachments.map((a) => messageMediaKey(m.conversationId, a.mediaId))),
      );
      return m.attachments.flatMap((a, i) => {
        const x = found[i];
        return x && !(x instanceof Error) && x.state === "READY" ? [mediaView(x, a.alt || null)] : [];
      });
    },
  },
  Media: {
    variants: (m: Partial<MediaView>) => m.variants ?? [],
    animated: (m: Partial<MediaView>) => m.animated ?? false,
  },
} satisfies IResolvers;
