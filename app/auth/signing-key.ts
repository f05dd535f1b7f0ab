import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The HS256 key that signs every token of this appliance: created on first use, readable by its owner only. */
export function loadSigningKey(dataDir: string): Uint8Array {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, "signing.key");
  if (!existsSync(path)) {
    const key = crypto.getRandomValues(new Uint8Array(32));
    // `wx`: if two processes race on first start, one loses here and reads the winner's key below.
    try {
      writeFileSync(path, Buffer.from(key).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const hex = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not a 32-byte hex key`);
  return Buffer.from(hex, "hex");
}
