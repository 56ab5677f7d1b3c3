/** Which code `nova` runs (bin/entry.mjs). */
export function pickEntry(root: string, force?: string): { kind: "dist" | "src"; reason: string };
