/**
 * The viewer's muted words as one test over a post's text: each phrase matched as a whole word (not
 * inside another word: "cat" hides "a cat!" and "#cat", not "catalog"), case-insensitive in any
 * script, inner whitespace matching any run of whitespace. One regular expression per request.
 */
/** True when the text carries a muted phrase. */
export type MutedText = (text: string) => boolean;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function mutedWordTest(phrases: readonly string[]): MutedText | undefined {
  if (phrases.length === 0) return undefined;
  const alternatives = phrases.map((p) => escapeRegExp(p.trim()).replace(/\s+/g, "\\s+"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}_])`, "iu");
  return (text) => re.test(text);
}
