// The Synta request/reply client against a scripted device on the other end of an in-memory pipe: replies matched in
// order, error replies, noise, split frames, timeouts with bounded retries, urgent commands and disconnects.
import { describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import type { HalLog } from "../../../hal/log";
import { pipePair, type PipeEnd } from "../../../hal/serial/pipe";
import { SyntaCancelled, SyntaClient, SyntaError, SyntaNoReply } from "../../../hal/synta/client";
import { asciiBytes } from "../../../hal/synta/codec";

/** The device end: collects command lines and answers each through `answer` (undefined = stay silent). */
function scripted(end: PipeEnd, answer: (line: string, index: number) => string | undefined) {
  const lines: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let buf = "";
  end.data.on((chunk) => {
    buf += new TextDecoder().decode(chunk);
    let cr: number;
    while ((cr = buf.indexOf("\r")) >= 0) {
      const line = buf.slice(0, cr);
      buf = buf.slice(cr + 1);
      lines.push(line);
      const reply = answer(line, lines.length - 1);
      if (reply !== undefined) end.write(asciiBytes(reply));
      for (const w of waiters.filter((w) => lines.length >= w.n)) w.resolve();
    }
  });
  return Object.assign(lines, {
    /** Resolves once `n` lines have arrived. */
    reach: (n: number) => new Promise<void>((resolve) => (lines.length >= n ? resolve() : waiters.push({ n, resolve }))),
  });
}

function recordingLog() {
  const warnings: { fields: object; message: string }[] = [];
  const listeners: (() => void)[] = [];
  const log: HalLog = {
    info() {},
    error() {},
    warn: (fields, message) => {
      warnings.push({ fields, message });
      for (const l of listeners.splice(0)) l();
    },
  };
  /** Resolves at the next warning whose message contains `text` (or at once if one was logged already). */
  const warned = (text: string): Promise<void> =>
    warnings.some((w) => w.message.includes(text)) ? Promise.resolve() : new Promise((r) => listeners.push(() => void warned(text).then(r)));
  return { log, warnings, warned };
}

describe("SyntaClient", () => {
  test("replies are matched to requests in order, one command on the wire at a time", async () => {
    const [driver, device] = pipePair();
    let outstanding = 0;
    let maxOutstanding = 0;
    const lines = scripted(device, (line) => {
      maxOutstanding = Math.max(maxOutstanding, ++outstanding);
      const reply = line === ":j1" ? "=000080\r" : line === ":f2" ? "=101\r" : "=\r";
      queueMicrotask(() => {
        outstanding--;
        device.write(asciiBytes(reply));
      });
      return undefined;
    });
    const client = new SyntaClient(driver);
    const replies = await Promise.all([client.request("j", "1"), client.request("f", "2"), client.request("K", "1")]);
    expect(replies).toEqual(["000080", "101", ""]);
    expect([...lines]).toEqual([":j1", ":f2", ":K1"]);
    expect(maxOutstanding).toBe(1);
  });

  test("an error reply rejects with the command, axis, code and meaning, without retrying", async () => {
    const [driver, device] = pipePair();
    const lines = scripted(device, () => "!2\r");
    const client = new SyntaClient(driver);
    const err = await client.request("G", "1", "01").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaError);
    expect(err).toMatchObject({ kind: "fault", cmd: "G", axis: "1", code: "2", meaning: "motor not stopped" });
    expect((err as Error).message).toContain(":G1");
    expect((err as Error).message).toContain("motor not stopped");
    expect([...lines]).toEqual([":G101"]);
  });

  test("noise before a reply is logged and skipped; a reply split into single bytes still arrives", async () => {
    const [driver, device] = pipePair();
    scripted(device, () => {
      for (const b of asciiBytes("\x7f#junk=5634")) device.write(Uint8Array.of(b));
      device.write(asciiBytes("12\r"));
      return undefined;
    });
    const { log, warnings } = recordingLog();
    const client = new SyntaClient(driver, { log });
    expect(await client.request("j", "1")).toBe("563412");
    expect(warnings.map((w) => w.message)).toEqual(["garbage from the motor controller ignored"]);
    expect(warnings[0]!.fields).toMatchObject({ bytes: "\x7f#junk" });
  });

  test("an echoed command line is not taken for the reply", async () => {
    const [driver, device] = pipePair();
    scripted(device, (line) => `${line}\r=101\r`);
    const client = new SyntaClient(driver);
    expect(await client.request("f", "1")).toBe("101");
  });

  test("no reply: retried up to the limit, then a fault naming the command", async () => {
    const [driver, device] = pipePair();
    const lines = scripted(device, () => undefined);
    const client = new SyntaClient(driver, { timeoutMs: 30, retries: 3 });
    const err = await client.request("j", "1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaNoReply);
    expect(err).toMatchObject({ kind: "fault", message: "no reply from the motor controller to :j1 after 3 tries" });
    expect([...lines]).toEqual([":j1", ":j1", ":j1"]);
    // The client is usable afterwards.
    const [driver2, device2] = pipePair();
    scripted(device2, (_line, i) => (i === 0 ? undefined : "=000080\r"));
    expect(await new SyntaClient(driver2, { timeoutMs: 30 }).request("j", "1")).toBe("000080");
  });

  test("a late reply of the wrong shape after a retry is dropped, not matched to the next command", async () => {
    const [driver, device] = pipePair();
    const { log, warned } = recordingLog();
    const lines = scripted(device, (line, i) => {
      // The first :f1 is answered too late (after the retry went out), with its status; then each gets its own.
      if (i === 0) {
        setTimeout(() => device.write(asciiBytes("=101\r")), 45);
        return undefined;
      }
      return line.startsWith(":f") ? "=101\r" : "=000080\r";
    });
    const client = new SyntaClient(driver, { timeoutMs: 30, log });
    expect(await client.request("f", "1")).toBe("101");
    // The late duplicate arrives while nothing awaits it (or while :j1 does, whose reply has another length).
    const j = client.request("j", "1");
    await Promise.race([warned("no command awaiting it"), warned("wrong length")]);
    expect(await j).toBe("000080");
    expect([...lines]).toEqual([":f1", ":f1", ":j1"]);
  });

  test("urgent is written at once, ahead of queued commands, and its reply is matched after the awaited one", async () => {
    const [driver, device] = pipePair();
    // A device busy with :j1 answers it, then the commands that arrived meanwhile, in order.
    const held: string[] = [];
    const releaseFirst = () => device.write(asciiBytes(held.splice(0).join("")));
    const lines = scripted(device, (line) => {
      if (line === ":j1") held.push("=000080\r");
      else if (line === ":L1") held.push("=\r");
      else return line === ":f1" ? "=101\r" : "=\r";
      return undefined;
    });
    const client = new SyntaClient(driver);
    const first = client.request("j", "1");
    const queued = client.request("f", "1");
    await lines.reach(1);
    const urgent = client.urgent("L", "1");
    await lines.reach(2);
    // L reached the device while :j1 was still unanswered, and before the queued :f1.
    expect([...lines]).toEqual([":j1", ":L1"]);
    releaseFirst();
    expect(await first).toBe("000080");
    expect(await urgent).toBe("");
    expect(await queued).toBe("101");
    expect([...lines]).toEqual([":j1", ":L1", ":f1"]);
  });

  test("a queued command no longer wanted is never written", async () => {
    const [driver, device] = pipePair();
    const lines = scripted(device, () => "=\r");
    const client = new SyntaClient(driver);
    let wanted = true;
    const a = client.request("K", "1");
    const b = client.request("J", "1", "", { wanted: () => wanted });
    wanted = false;
    await a;
    expect(await b.catch((e: unknown) => e)).toBeInstanceOf(SyntaCancelled);
    expect([...lines]).toEqual([":K1"]);
  });

  test("disconnected: requests reject at once; a drop rejects those pending; urgent throws", async () => {
    const [driver, device] = pipePair();
    scripted(device, () => undefined);
    const client = new SyntaClient(driver, { timeoutMs: 5000 });
    const pending = [client.request("j", "1"), client.request("f", "1")];
    driver.sever();
    for (const p of pending) expect(await p.catch((e: unknown) => e)).toMatchObject({ kind: "disconnected" });
    expect(await client.request("j", "1").catch((e: unknown) => e)).toBeInstanceOf(DeviceError);
    expect(() => client.urgent("L", "1")).toThrow(DeviceError);
    driver.restore();
    scripted(device, () => "=000080\r");
    expect(await client.request("j", "1")).toBe("000080");
  });
});
