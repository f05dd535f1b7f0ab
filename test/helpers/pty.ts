import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A pseudo-terminal pair made by socat: what is written to one path is read from the other, with real tty
 * semantics (termios, EIO when the other side goes away). `stop()` kills socat by its pid, which makes both paths
 * vanish (an unplugged device); `restart()` makes them appear again at the same paths. */
export class PtyPair {
  private proc: ReturnType<typeof Bun.spawn> | null = null;

  private constructor(
    readonly a: string,
    readonly b: string,
    /** The directory this pair made for its links (removed by close()), if it made one. */
    private readonly ownDir: string | null,
  ) {}

  static async open(dir?: string): Promise<PtyPair> {
    const own = dir ? null : mkdtempSync(join(tmpdir(), "skynode-pty-"));
    const base = dir ?? own!;
    const pair = new PtyPair(join(base, "a"), join(base, "b"), own);
    await pair.restart();
    return pair;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async restart(): Promise<void> {
    if (this.proc) throw new Error("pty pair already running");
    if (!Bun.which("socat")) {
      throw new Error("socat is missing: the serial tests need it (install with: sudo apt-get install -y socat)");
    }
    const proc = Bun.spawn(["socat", "-d", "-d", `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    this.proc = proc;
    // socat logs "starting data transfer loop" once both ptys exist and their links are made: wait for that line.
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = "";
    while (!seen.includes("starting data transfer loop")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`socat exited before the ptys were ready: ${seen}`);
      seen += decoder.decode(value, { stream: true });
    }
    reader.releaseLock();
    // Keep draining stderr so socat never blocks on a full pipe.
    void (proc.stderr as ReadableStream<Uint8Array>).pipeTo(new WritableStream()).catch(() => {});
    if (!existsSync(this.a) || !existsSync(this.b)) throw new Error("socat reported ready but the pty links are missing");
  }

  /** Kills socat and waits until it is gone (both pty paths then vanish). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    proc.kill("SIGKILL");
    await proc.exited;
    // SIGKILL leaves socat's links pointing at freed /dev/pts numbers, which another test may reuse: remove them.
    for (const link of [this.a, this.b]) rmSync(link, { force: true });
  }

  /** For good: stop(), and remove the directory open() made for the links. */
  async close(): Promise<void> {
    await this.stop();
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
  }
}
