/**
 * `npm run bench -- <name> [--quick] [--against <git-ref>]` (--against: the
 * benchmarks that compare this tree with another commit, `closed`). Each
 * benchmark prints progress on stderr and ONE JSON object as the last line of
 * stdout.
 */
const argv = process.argv.slice(2);
const againstAt = argv.indexOf("--against");
const against = againstAt >= 0 ? argv[againstAt + 1] : undefined;
if (againstAt >= 0 && (!against || against.startsWith("-"))) {
  process.stderr.write("--against: expected a git ref\n");
  process.exit(2);
}
const benches: Record<string, () => Promise<Record<string, unknown>>> = {
  startup: async () => (await import("./startup.ts")).run(process.argv.includes("--quick")),
  cache: async () => (await import("./cache.ts")).run(process.argv.includes("--quick")),
  feed: async () => (await import("./feed.ts")).run(process.argv.includes("--quick")),
  events: async () => (await import("./events.ts")).run(process.argv.includes("--quick")),
  realtime: async () => (await import("./realtime.ts")).run(process.argv.includes("--quick")),
  notifications: async () => (await import("./notifications.ts")).run(process.argv.includes("--quick")),
  search: async () => (await import("./search.ts")).run(process.argv.includes("--quick")),
  rpc: async () => (await import("./rpc.ts")).run(process.argv.includes("--quick")),
  closed: async () => (await import("./closed.ts")).run(process.argv.includes("--quick"), against),
  media: async () => (await import("./media.ts")).run(process.argv.includes("--quick")),
};

const name = argv.find((a, i) => !a.startsWith("-") && (againstAt < 0 || i !== againstAt + 1));
if (!name || !benches[name]) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [--quick] [--against <git-ref>]\n`);
  process.exit(2);
}
const result = await (benches[name] as () => Promise<Record<string, unknown>>)();
process.stdout.write(`${JSON.stringify({ bench: name, node: process.version, ...result })}\n`);
process.exit(0);
