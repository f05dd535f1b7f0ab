/** Asks for a WebSocket upgrade over plain HTTP and returns the refusal (status and body); a test of a refused
 * upgrade sees the reason a browser's WebSocket hides (it reports only "closed"). An accepted upgrade is a failure. */
export async function upgradeRefusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
      "sec-websocket-version": "13",
      ...headers,
    },
  });
  if (res.status === 101) throw new Error(`the upgrade to ${url} was accepted`);
  return { status: res.status, body: await res.text() };
}
