import type { z } from "zod";

/** What an `invalid` answer says about a frame that failed its schema: the first issue as text, and the issues
 * (at most 20). Both quote the request (paths, unknown keys), so strings and arrays are bounded: a hostile frame
 * cannot make the server echo megabytes back. */
export function invalidFrame(error: z.ZodError): { message: string; issues: unknown[] } {
  const first = error.issues[0];
  const message = first ? `${first.path.length ? first.path.join(".") : "message"}: ${first.message}` : "invalid message";
  return { message: clip(message), issues: clipped(error.issues.slice(0, 20)) };
}

const clip = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text);

function clipped(issues: unknown[]): unknown[] {
  return JSON.parse(
    JSON.stringify(issues, (_key, value) =>
      typeof value === "string" ? clip(value) : Array.isArray(value) && value.length > 20 ? value.slice(0, 20) : value,
    ),
  );
}

/** The frame's size in bytes when it is over `max`, else 0. A UTF-16 unit is at most 3 UTF-8 bytes: only long
 * frames need their bytes counted. */
export function oversize(data: string, max: number): number {
  if (data.length * 3 <= max) return 0;
  const bytes = Buffer.byteLength(data);
  return bytes > max ? bytes : 0;
}
