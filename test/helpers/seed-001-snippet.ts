/** Seed 001's "Reassembling a response" snippet, verbatim but for its two placeholder comments, which call
 * `done(payload, contentType)` and `fail(msg)`. Run in a page (as a browser user would) with `socket` and `myId`
 * in scope; `atob` does the decoding, as the seed has it. */
export const SEED_001_SNIPPET = `
const chunks: Uint8Array[] = [];
let contentType = "";

socket.onmessage = (event) => {
  const msg = JSON.parse(event.data);

  if (msg.kind === "direct_response_start" && msg.request_id === myId) {
    contentType = msg.content_type;
    chunks.length = 0;
  }
  if (msg.kind === "direct_response_chunk" && msg.request_id === myId) {
    chunks.push(Uint8Array.from(atob(msg.data_b64), c => c.charCodeAt(0)));
  }
  if (msg.kind === "direct_response_end" && msg.request_id === myId) {
    const total = chunks.reduce((sum, c) => sum + c.length, 0);
    const payload = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) { payload.set(c, offset); offset += c.length; }
    done(payload, contentType);
  }
  if (msg.kind === "direct_error" && msg.request_id === myId) {
    fail(msg);
  }
};
`;

/** The snippet as page JavaScript: TypeScript's one annotation removed. */
export const SEED_001_SNIPPET_JS = SEED_001_SNIPPET.replace("const chunks: Uint8Array[] = [];", "const chunks = [];");
