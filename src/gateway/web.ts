/**
 * The web client (web/, built by Vite into web/dist) served at `/`:
 * - `/assets/*`: content-hashed names, so `Cache-Control: public, max-age=31536000, immutable`;
 * - `/` and every client route (a GET for HTML outside the gateway's own paths): index.html, `no-cache`
 *   so a new deploy is picked up at once;
 * - a Content-Security-Policy for the pages: scripts, styles and connections from this origin only
 *   (the WebSocket included), images also from the media store's origins and the composer's blob: previews.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const WEB_DIST = fileURLToPath(new URL("../../web/dist/", import.meta.url));

/** Paths the gateway answers itself: never shadowed by the client's fallback. */
const RESERVED = /^\/(graphql|graphiql|media|healthz|readyz|metrics|\.well-known)(\/|$)/;

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

export interface WebOptions {
  /** The built client (index.html and assets/); default web/dist. */
  dir?: string;
  /** Origins media is read from and uploaded to besides this one (S3, a CDN). */
  mediaOrigins?: string[];
}

export function webPolicy(mediaOrigins: string[] = []): string {
  const media = mediaOrigins.join(" ");
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob: ${media}`.trim(),
    `connect-src 'self' ${media}`.trim(),
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Registers the client's routes when it is built (false: there is no web/dist/index.html). */
export function registerWeb(app: FastifyInstance, opts: WebOptions = {}): boolean {
  const dir = opts.dir ?? WEB_DIST;
  const indexPath = join(dir, "index.html");
  if (!existsSync(indexPath)) return false;
  const index = readFileSync(indexPath);
  const policy = webPolicy(opts.mediaOrigins);
  const assets = join(dir, "assets") + sep;

  const sendIndex = (reply: FastifyReply) =>
    reply
      .header("content-type", "text/html; charset=utf-8")
      .header("cache-control", "no-cache")
      .header("content-security-policy", policy)
      .send(index);

  app.get("/", (_req, reply) => sendIndex(reply));
  app.get("/assets/*", (req: FastifyRequest<{ Params: { "*": string } }>, reply) => {
    const file = normalize(join(assets, req.params["*"]));
    if (!file.startsWith(assets) || !existsSync(file) || !statSync(file).isFile()) {
      return reply.code(404).header("cache-control", "no-store").send({ error: "not found" });
    }
    return reply
      .header("content-type", TYPES[extname(file)] ?? "application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .header("content-length", statSync(file).size)
      .send(createReadStream(file));
  });
  // Client routes (/u/alice, /p/123, …): a browser's GET for a page gets the app, which routes itself.
  app.setNotFoundHandler((req, reply) => {
    const page = (req.method === "GET" || req.method === "HEAD") && /text\/html/.test(req.headers.accept ?? "");
    if (page && !RESERVED.test(req.url)) return sendIndex(reply);
    return reply.code(404).send({ data: null, errors: [{ message: "not found", extensions: { code: "NOT_FOUND" } }] });
  });
  return true;
}
