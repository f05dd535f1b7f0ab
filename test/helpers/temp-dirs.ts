import { afterAll } from "bun:test";
import { removeDir, tempDir } from "./server";

/** A maker of fresh temp dirs, all removed after the calling test file's tests. */
export function freshDirs(): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));
  return () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
}
