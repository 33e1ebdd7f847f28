/**
 * The server's id rule (graphrec.ids), applied before an event is queued so that one bad id never
 * gets a whole batch refused: NFC, 1-256 characters (code points, as Python counts them), no
 * leading or trailing whitespace (Python's `str.isspace` set), no control character (C0, DEL, C1,
 * U+2028/U+2029) and no '/'. Stricter in one point: a lone UTF-16 surrogate is refused too.
 */
export const MAX_ID_LENGTH = 256;

// Python's str.isspace() characters, the set `str.strip()` removes.
const WS = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const EDGE_WS = new RegExp(`^[${WS}]|[${WS}]$`);
const FORBIDDEN = /[\x00-\x1f\x7f-\x9f\u2028\u2029/]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` (already NFC) is not a valid id, or null when it is. Same wording as the server. */
export function idProblem(value: unknown): string | null {
  if (typeof value !== "string") return "must be a string";
  if (!value) return "must not be empty";
  if (LONE_SURROGATE.test(value)) return "must not contain a lone surrogate";
  let n = 0;
  for (const _ of value) if (++n > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters`;
  if (EDGE_WS.test(value)) return "must not start or end with whitespace";
  const bad = FORBIDDEN.exec(value);
  if (bad) {
    const c = bad[0];
    return c === "/" ? "must not contain '/'" : `must not contain control character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return null;
}

/** `value` in NFC, or throws a TypeError saying which part of the rule it breaks. */
export function normaliseId(value: unknown, field = "id"): string {
  const nfc = typeof value === "string" ? value.normalize("NFC") : value;
  const problem = idProblem(nfc);
  if (problem !== null) throw new TypeError(`${field} ${problem}`);
  return nfc as string;
}
