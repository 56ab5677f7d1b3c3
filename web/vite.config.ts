/**
 * The web client's build. Its GraphQL documents are the gateway's persisted-operation allow-list:
 * `import Feed from "$ops/Feed.graphql"` loads src/gateway/operations/Feed.graphql as the manifest
 * entry of that name (`npm run operations`), so the client sends the same hash production accepts.
 */
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig, type Plugin } from "vite";
import { buildManifest, OPERATIONS_DIR } from "../src/gateway/persisted.ts";

const gateway = process.env.NOVA_GATEWAY ?? "http://127.0.0.1:4000";

/** `*.graphql` under src/gateway/operations -> `{ name, hash }` (and the text in dev, for APQ against an older server). */
function persistedOperations(dev: boolean): Plugin {
  return {
    name: "nova-persisted-operations",
    // An edited operation or fragment changes documents and hashes: reload them all.
    configureServer(server) {
      server.watcher.add(OPERATIONS_DIR);
      server.watcher.on("change", (file) => {
        if (!file.startsWith(OPERATIONS_DIR)) return;
        for (const m of server.moduleGraph.idToModuleMap.values()) {
          if (m.id?.endsWith(".graphql")) server.moduleGraph.invalidateModule(m);
        }
        server.ws.send({ type: "full-reload" });
      });
    },
    load(id) {
      if (!id.endsWith(".graphql") || !id.startsWith(OPERATIONS_DIR)) return null;
      const name = id.slice(OPERATIONS_DIR.length).replace(/\.graphql$/, "");
      const entry = Object.entries(buildManifest().operations).find(([, op]) => op.name === name);
      if (!entry) throw new Error(`${id} is not an operation of the manifest (fragments are not imported)`);
      const [hash, op] = entry;
      return `export default ${JSON.stringify(dev ? { name, hash, document: op.document } : { name, hash })};`;
    },
  };
}

export default defineConfig(({ command }) => ({
  root: import.meta.dirname,
  plugins: [svelte(), persistedOperations(command === "serve")],
  resolve: { alias: { $ops: OPERATIONS_DIR.replace(/\/$/, "") } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The polyfill would be code for browsers the client does not target anyway.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    fs: { allow: [".."] },
    proxy: {
      "/graphql": { target: gateway, ws: true },
      "/media": gateway,
      "/healthz": gateway,
    },
  },
}));
