/** UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits; sortable by creation time. */
import { randomBytes } from "node:crypto";

let lastMs = 0;
let seq = 0;

export function uuidv7(now = Date.now()): string {
  const b = randomBytes(16);
  // Monotonic within one process: same ms -> bump a 12-bit counter in rand_a.
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs++;
    now = lastMs;
  } else {
    lastMs = now;
    seq = b.readUInt16BE(6) & 0x7ff;
  }
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((seq >> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
