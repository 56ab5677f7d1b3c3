import { create } from "@bufbuild/protobuf";
import type { MethodImpl } from "@connectrpc/connect";
import {
  type SearchService,
  type Suggestion,
  Suggestion_Kind,
  SuggestionSchema,
} from "../../../gen/nova/search/v1/search_pb.ts";
import { pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import type { SearchContext } from "../options.ts";
import { fold, suggestTagsQuery, suggestUsersQuery, timed } from "../queries.ts";
import { PAGES, prefixPattern, validateQuery } from "../validation.ts";

/** Suggestions: users for '@…', hashtags for '#…', both (alternating) otherwise. */
export function suggestions(ctx: SearchContext): MethodImpl<typeof SearchService.method.suggestions> {
  return async (req) => {
    const typed = validateQuery("prefix", req.prefix);
    const limit = pageSize(req.limit, PAGES.suggestions);
    const viewer = optionalUser()?.userId;
    const kind = typed.startsWith("#") ? "tags" : typed.startsWith("@") ? "users" : "both";
    const rest = kind === "both" ? typed : typed.slice(1);
    const r = await timed("suggestions", async () => {
      const f = await fold(ctx.reader, rest);
      const prefix = prefixPattern(f);
      const users = kind === "tags" ? [] : await suggestUsersQuery(ctx.reader, { f, prefix, viewer, limit });
      const tags = kind === "users" ? [] : await suggestTagsQuery(ctx.reader, prefix, limit);
      return { users, tags };
    });
    const u = r.users.map((x) =>
      create(SuggestionSchema, { kind: Suggestion_Kind.USER, id: x.id, text: `@${x.username}` }),
    );
    const t = r.tags.map((x) =>
      create(SuggestionSchema, { kind: Suggestion_Kind.HASHTAG, id: x.tag, text: `#${x.tag}` }),
    );
    return { suggestions: alternate(u, t, limit) };
  };
}

/** Both kinds: alternate, so neither crowds the other out. */
function alternate(u: Suggestion[], t: Suggestion[], limit: number): Suggestion[] {
  const out: Suggestion[] = [];
  for (let i = 0; out.length < limit && (i < u.length || i < t.length); i++) {
    const [ui, ti] = [u[i], t[i]];
    if (ui) out.push(ui);
    if (ti && out.length < limit) out.push(ti);
  }
  return out;
}
