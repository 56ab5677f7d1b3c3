/**
 * Requests the server makes to addresses users give it (a Web Push endpoint) go to public
 * addresses only: never loopback, private networks, link-local (cloud metadata at 169.254.169.254),
 * shared, documentation, multicast or reserved ranges, in IPv4 or IPv6 (IPv4-mapped included).
 * A host name is checked where it matters, on the address actually connected to (the agent's
 * lookup), so a name that resolves to a private address — or starts to, later — is refused too.
 */

import { lookup as dnsLookup } from "node:dns";
import { Agent } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, "ipv6");
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** `[::1]` -> `::1`; an IPv4-mapped IPv6 address -> its IPv4 address. */
function plain(address: string): string {
  const a = address.replace(/^\[|\]$/g, "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped ? (mapped[1] as string) : a;
}

/** True for an IP address outside every non-public range (`allowLoopback`: loopback passes too). */
export function isPublicAddress(address: string, allowLoopback = false): boolean {
  const a = plain(address);
  const family = isIP(a);
  if (family === 0) return false;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (allowLoopback && LOOPBACK.check(a, type)) return true;
  return !NOT_PUBLIC.check(a, type);
}

/** Names that never lead to a public server. */
const LOCAL_NAME = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

/**
 * Why a URL's host cannot be a public server, or undefined when it may be (an IP literal in a
 * public range, or a name not local by its form: the connection's lookup checks it again).
 */
export function hostProblem(url: URL, allowLoopback = false): string | undefined {
  const host = plain(url.hostname);
  if (isIP(host)) return isPublicAddress(host, allowLoopback) ? undefined : "is not a public address";
  if (allowLoopback && host === "localhost") return undefined;
  if (!host.includes(".") || LOCAL_NAME.test(host)) return "is not a public host name";
  return undefined;
}

/** A dns.lookup that fails for a name resolving to any address that is not public. */
export function publicLookup(allowLoopback = false): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const bad = addresses.find((a) => !isPublicAddress(a.address, allowLoopback));
      if (bad || addresses.length === 0) {
        const e = Object.assign(
          new Error(`${hostname} resolves to ${bad?.address ?? "nothing"}, not a public address`),
          {
            code: "ENOTPUBLIC",
          },
        );
        return callback(e, "", 0);
      }
      if (options.all) return callback(null, addresses as never, 0);
      const first = addresses[0] as { address: string; family: number };
      return callback(null, first.address, first.family);
    });
  };
}

/** An https.Agent whose connections reach public addresses only (plus `ca` to trust, e.g. a private push service). */
export function publicAgent(opts: { allowLoopback?: boolean; ca?: Buffer } = {}): Agent {
  return new Agent({ keepAlive: true, lookup: publicLookup(opts.allowLoopback), ...(opts.ca ? { ca: opts.ca } : {}) });
}
