const ROOT = new URL("../..", import.meta.url).pathname;

/** A machine API key issued the operator's way (`apikey issue`) into a server's data dir. */
export async function issueApiKey(dataDir: string, name: string): Promise<string> {
  const proc = Bun.spawn([process.execPath, "app/main.ts", "apikey", "issue", "--name", name, "--data", dataDir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`apikey issue failed (${code}): ${err}`);
  return out.trim();
}

/** Installs an existing key into another data dir (`apikey add`, key on stdin): instances of one hub share keys. */
export async function addApiKey(dataDir: string, name: string, key: string): Promise<void> {
  const proc = Bun.spawn([process.execPath, "app/main.ts", "apikey", "add", "--name", name, "--data", dataDir], { cwd: ROOT, stdin: new TextEncoder().encode(`${key}\n`), stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`apikey add failed (${code}): ${err}`);
}
