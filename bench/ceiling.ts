/**
 * The in-memory ceiling of the home feed (bench closed): the same `feed(first: 20)` GraphQL query
 * served by Fastify + Mercurius with graphql-jit, as Nova's gateway is, over in-memory data shaped
 * like `nova seed --users 600 --follows-per-user 10 --posts 3000 --seed 7` (Zipf followees and
 * authors, posts over 30 days, Zipf likes, a few comments). The resolvers do the page's work in
 * memory: the viewer's followees, their newest posts merged, each post's author, counts and viewer
 * state. No database, no RPC, no token check (the bearer token names a user), no metrics or spans:
 * what the query costs with nothing but GraphQL around it.
 *
 * Run as its own process (its CPU measured apart): `node --import tsx bench/ceiling.ts`, with PORT,
 * CEILING_USERS, CEILING_FOLLOWS, CEILING_POSTS, CEILING_SEED. Prints "listening" when it serves.
 */
import Fastify from "fastify";
import mercurius, { type IResolvers } from "mercurius";

const SCHEMA = `
  type User { id: ID! username: String! displayName: String }
  type Post {
    id: ID! text: String! createdAt: String! author: User!
    likeCount: Int! commentCount: Int! viewerHasLiked: Boolean! viewerHasBookmarked: Boolean!
  }
  type PostEdge { cursor: String! node: Post! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type FeedConnection { edges: [PostEdge!]! pageInfo: PageInfo! }
  type Query { feed(first: Int, after: String): FeedConnection! }
`;

interface User {
  id: string;
  username: string;
  displayName: string;
  following: number[];
  /** Post indexes, newest first. */
  posts: number[];
}
interface Post {
  id: string;
  text: string;
  at: number;
  author: number;
  likes: Set<number>;
  comments: number;
  bookmarks: Set<number>;
}

/** A reproducible dataset of the seed's shape (its distributions, not its exact rows). */
export function dataset(size: { users: number; follows: number; posts: number; seed: number }) {
  let s = (size.seed + 1) * 2654435761;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  // Zipf by rank: P(k) ∝ 1/k^e, drawn through the cumulative weights.
  const zipf = (n: number, e: number) => {
    const cum: number[] = [];
    let t = 0;
    for (let k = 1; k <= n; k++) {
      t += 1 / k ** e;
      cum.push(t);
    }
    return () => {
      const x = rnd() * t;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((cum[mid] as number) < x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
  };
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  const users: User[] = Array.from({ length: size.users }, (_, i) => ({
    id: `00000000-0000-4000-8000-${hex(i, 12)}`,
    username: `seed${size.seed}_${i}`,
    displayName: `Seed User ${i}`,
    following: [],
    posts: [],
  }));
  const followee = zipf(size.users, 1.1);
  for (const [i, u] of users.entries()) {
    const set = new Set<number>();
    for (let tries = 0; set.size < Math.min(size.follows, size.users - 1) && tries < size.follows * 20; tries++) {
      const f = followee();
      if (f !== i) set.add(f);
    }
    u.following = [...set];
  }
  const author = zipf(size.users, 0.8);
  const liker = zipf(size.users, 1.0);
  const now = Date.now();
  const posts: Post[] = [];
  for (let p = 0; p < size.posts; p++) {
    const at = now - 30 * 86_400_000 + Math.floor((p / size.posts) * 30 * 86_400_000);
    const likes = new Set<number>();
    const n = Math.floor(16 * rnd() ** 3);
    for (let k = 0; k < n; k++) likes.add(liker());
    posts.push({
      id: `${hex(at, 12).slice(0, 8)}-${hex(at, 12).slice(8)}-7000-8000-${hex(p, 12)}`,
      text: `seeded post ${p} about things #tag${p % 50}`,
      at,
      author: author(),
      likes,
      comments: Math.floor(3 * rnd() ** 2),
      bookmarks: new Set(),
    });
  }
  for (let p = posts.length - 1; p >= 0; p--) users[(posts[p] as Post).author]?.posts.push(p);
  return { users, posts };
}

export async function ceilingServer(data: ReturnType<typeof dataset>) {
  const { users, posts } = data;
  const byToken = new Map(users.map((_u, i) => [`Bearer u${i}`, i]));
  const app = Fastify({ logger: false });
  type Ctx = { viewer: number };
  const edge = (p: number) => ({ cursor: (posts[p] as Post).id, node: p });
  await app.register(mercurius, {
    schema: SCHEMA,
    jit: 1,
    context: (req) => ({ viewer: byToken.get(req.headers.authorization ?? "") ?? -1 }),
    resolvers: {
      Query: {
        feed: (_: unknown, args: { first?: number }, ctx: Ctx) => {
          const me = users[ctx.viewer];
          if (!me) throw new Error("unauthenticated");
          const first = Math.min(50, args.first ?? 20);
          // The newest `first + 1` of every followee's posts, merged: a timeline read in memory.
          const page = me.following
            .flatMap((f) => (users[f] as User).posts.slice(0, first + 1))
            .sort((a, b) => (posts[b] as Post).at - (posts[a] as Post).at);
          const edges = page.slice(0, first).map(edge);
          return { edges, pageInfo: { hasNextPage: page.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
        },
      },
      Post: {
        id: (p: number) => (posts[p] as Post).id,
        text: (p: number) => (posts[p] as Post).text,
        createdAt: (p: number) => new Date((posts[p] as Post).at).toISOString(),
        author: (p: number) => users[(posts[p] as Post).author],
        likeCount: (p: number) => (posts[p] as Post).likes.size,
        commentCount: (p: number) => (posts[p] as Post).comments,
        viewerHasLiked: (p: number, _: unknown, ctx: Ctx) => (posts[p] as Post).likes.has(ctx.viewer),
        viewerHasBookmarked: (p: number, _: unknown, ctx: Ctx) => (posts[p] as Post).bookmarks.has(ctx.viewer),
      },
    } as unknown as IResolvers,
  });
  return app;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop() as string)) {
  const env = process.env;
  const data = dataset({
    users: Number(env.CEILING_USERS ?? 600),
    follows: Number(env.CEILING_FOLLOWS ?? 10),
    posts: Number(env.CEILING_POSTS ?? 3000),
    seed: Number(env.CEILING_SEED ?? 7),
  });
  const app = await ceilingServer(data);
  await app.listen({ host: "127.0.0.1", port: Number(env.PORT ?? 0) });
  process.stdout.write("listening\n");
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => app.close().then(() => process.exit(0)));
}
