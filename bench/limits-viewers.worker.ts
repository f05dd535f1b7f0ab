// The browsers of bench/limits.ts: N viewers on /v1/ws/stream, each with its own subscription to all of the
// telescope's streams, on a thread of their own so that their parsing is not charged to the appliance's thread.
// `{ connect: { url, n, telescope } }` → `{ ready: true }`; `{ report: true }` → `{ events }` (event frames per viewer
// since the last report); `{ close: true }` closes them.
declare var self: Worker;

type Msg = { connect?: { url: string; n: number; telescope: string }; report?: true; close?: true };

const sockets: WebSocket[] = [];
let counts: number[] = [];

async function connect(url: string, n: number, telescope: string): Promise<void> {
  counts = new Array(n).fill(0);
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(url);
          sockets.push(ws);
          ws.onopen = () => ws.send(JSON.stringify({ id: `sub-${i}`, kind: "subscribe_stream", subscription_id: `viewer-${i}`, filter: { telescope_uid: telescope } }));
          ws.onmessage = (e) => {
            const f = JSON.parse(e.data as string) as { kind: string; id?: string; code?: string };
            if (f.kind.startsWith("event_")) counts[i]!++;
            else if (f.id === `sub-${i}`) f.kind === "ack" ? resolve() : reject(new Error(`viewer ${i}: subscribe refused: ${JSON.stringify(f)}`));
          };
          ws.onclose = (e) => reject(new Error(`viewer ${i}: closed (${e.code} ${e.reason})`));
        }),
    ),
  );
}

self.onmessage = (e: MessageEvent<Msg>) => {
  const m = e.data;
  if (m.connect) {
    connect(m.connect.url, m.connect.n, m.connect.telescope).then(
      () => postMessage({ ready: true }),
      (err: Error) => postMessage({ error: err.message }),
    );
  } else if (m.report) {
    postMessage({ events: counts });
    counts = counts.map(() => 0);
  } else if (m.close) {
    for (const ws of sockets) {
      ws.onclose = null;
      ws.close();
    }
    postMessage({ closed: true });
  }
};
