import { timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The one-time code that first-boot setup asks for, so that whoever reaches a fresh appliance on the LAN first
 * cannot make themselves its admin: printed at start and kept in `<data>/setup-code` (0600) until an admin exists. */
export class SetupCode {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, "setup-code");
  }

  /** The current code, created if there is none. */
  ensure(): string {
    if (existsSync(this.path)) return readFileSync(this.path, "utf8").trim();
    // 10 characters of a 32-letter alphabet without look-alikes: 50 bits, typed from a console in seconds.
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const code = [...crypto.getRandomValues(new Uint8Array(10))].map((b) => alphabet[b & 31]).join("");
    writeFileSync(this.path, `${code.slice(0, 5)}-${code.slice(5)}\n`, { mode: 0o600 });
    return this.ensure();
  }

  matches(code: string): boolean {
    if (!existsSync(this.path)) return false;
    const want = readFileSync(this.path, "utf8").trim();
    const norm = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "");
    const a = Buffer.from(norm(code));
    const b = Buffer.from(norm(want));
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Setup is done: the code is spent. */
  consume(): void {
    rmSync(this.path, { force: true });
  }
}
