import { removeDir, tempDir, track, type TestServer } from "./server";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface SkyNodeProcess {
  proc: ReturnType<typeof Bun.spawn>;
  dataDir: string;
  uid: string;
  /** SIGTERM, wait for the exit code, and remove the data dir. */
  stop(): Promise<number>;
}

/** Starts a real SkyNode (simulated devices) in its own process, attached to `hub` with a skynode token for `uid`,
 * and resolves once both of its sockets are open. */
export async function startSkyNodeProcess(hub: TestServer, uid: string): Promise<SkyNodeProcess> {
  const dataDir = tempDir();
  const proc = Bun.spawn([process.execPath, "test/helpers/external-skynode.ts", hub.ws, hub.token(`node-${uid}`, "skynode", [uid]), dataDir, uid], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "ignore",
  });
  track(proc);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  try {
    while (!out.includes("attached")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the SkyNode process exited before attaching (code ${await proc.exited}): ${out}`);
      out += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return {
    proc,
    dataDir,
    uid,
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      removeDir(dataDir);
      return code;
    },
  };
}
