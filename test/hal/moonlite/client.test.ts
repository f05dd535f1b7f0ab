// The Moonlite command channel against a scripted controller on the other end of an in-memory pipe: FIFO pairing
// of replies, noise and split frames, timeouts with bounded retries, and a link that drops.
import { describe, expect, test } from "bun:test";
import { DeviceError } from "../../../hal/errors";
import { MoonliteClient } from "../../../hal/moonlite/client";
import { CommandParser } from "../../../hal/moonlite/codec";
import { type PipeEnd, pipePair } from "../../../hal/serial/pipe";

/** What the scripted controller does with one command: reply with these writes (each its own chunk), or stay silent. */
type Script = (command: string, seen: number) => (string | Uint8Array)[] | null;

/** A controller end that records every command and answers as `script` says. */
function scripted(script: Script): { host: PipeEnd; device: PipeEnd; commands: string[] } {
  const [host, device] = pipePair(["host", "device"]);
  const parser = new CommandParser();
  const commands: string[] = [];
  device.data.on((bytes) => {
    for (const c of parser.push(bytes)) {
      commands.push(c);
      const seen = commands.filter((x) => x === c).length;
      for (const w of script(c, seen) ?? []) device.write(typeof w === "string" ? new TextEncoder().encode(w) : w);
    }
  });
  return { host, device, commands };
}

const answers: Record<string, string> = { GP: "01F4#", GI: "01#", GT: "0029#", GH: "00#", GD: "02#", GV: "10#", GN: "0200#" };
const plain: Script = (c) => (answers[c] ? [answers[c]] : null);

async function rejection(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return e as DeviceError;
  }
  throw new Error("expected a rejection");
}

describe("MoonliteClient", () => {
  test("pairs replies with queries in order and keeps sends in line with them", async () => {
    const { host, commands } = scripted(plain);
    const client = new MoonliteClient(host);
    const results = await Promise.all([
      client.query("GP"),
      client.send("SN0200"),
      client.query("GI"),
      client.send("FG"),
      client.query("GN"),
      client.query("GT"),
    ]);
    expect(results).toEqual(["01F4", undefined, "01", undefined, "0200", "0029"]);
    expect(commands).toEqual(["GP", "SN0200", "GI", "FG", "GN", "GT"]);
    client.close();
  });

  test("a send is written at once when nothing is pending", async () => {
    const { host, device } = scripted(() => null);
    const client = new MoonliteClient(host);
    const got = new Promise<string>((resolve) => device.data.on((b) => resolve(new TextDecoder().decode(b))));
    await client.send("FQ");
    expect(await got).toBe(":FQ#");
    client.close();
  });

  test("reassembles replies split byte by byte and skips noise, stray terminators and wrong-shaped frames", async () => {
    const split = (s: string) => [...s].map((ch) => ch);
    const { host } = scripted((c) => {
      if (c === "GP") return [Uint8Array.of(0x00, 0xff, 0x0d), ...split("#ZZ#0"), "1", Uint8Array.of(0x80), "F4", "#"];
      if (c === "GI") return split("1#");
      return plain(c, 1);
    });
    const client = new MoonliteClient(host);
    expect(await client.query("GP")).toBe("01F4");
    expect(await client.query("GI")).toBe("1");
    expect(await client.query("GH")).toBe("00");
    client.close();
  });

  test("reads GV's two characters whether or not the firmware terminates them", async () => {
    let terminated = false;
    const { host } = scripted((c) => (c === "GV" ? [terminated ? "21#" : "20"] : plain(c, 1)));
    const client = new MoonliteClient(host);
    expect(await client.query("GV")).toBe("20");
    expect(await client.query("GP")).toBe("01F4");
    terminated = true;
    expect(await client.query("GV")).toBe("21");
    expect(await client.query("GP")).toBe("01F4");
    client.close();
  });

  test("discards bytes nobody asked for, so a late reply is not taken for the next query's", async () => {
    const { host, device } = scripted(plain);
    const client = new MoonliteClient(host);
    const arrived = new Promise<void>((resolve) => host.data.on(() => resolve()));
    device.write(new TextEncoder().encode("0001#00"));
    await arrived;
    expect(await client.query("GP")).toBe("01F4");
    client.close();
  });

  test("asks again after a timeout and succeeds when the controller answers a retry", async () => {
    const { host, commands } = scripted((c, seen) => (c === "GP" && seen < 3 ? null : plain(c, seen)));
    const client = new MoonliteClient(host, { timeoutMs: 50, retries: 2 });
    expect(await client.query("GP")).toBe("01F4");
    expect(commands).toEqual(["GP", "GP", "GP"]);
    client.close();
  });

  test("after its retries a silent controller is a fault, and the queue moves on", async () => {
    const { host, commands } = scripted((c, seen) => (c === "GP" ? null : plain(c, seen)));
    const client = new MoonliteClient(host, { timeoutMs: 30, retries: 1 });
    const first = client.query("GP");
    const second = client.query("GI");
    const err = await rejection(first);
    expect(err.kind).toBe("fault");
    expect(err.details).toEqual({ command: "GP", attempts: 2 });
    expect(await second).toBe("01");
    expect(commands).toEqual(["GP", "GP", "GI"]);
    client.close();
  });

  test("a dropped link fails what is pending and refuses new commands at once", async () => {
    const { host } = scripted(() => null);
    const client = new MoonliteClient(host); // the 3 s default: the drop, not a timeout, must end these
    const pending = [client.query("GP"), client.send("FG"), client.query("GI")];
    host.sever();
    for (const p of pending) expect((await rejection(p)).kind).toBe("disconnected");
    expect((await rejection(client.query("GP"))).kind).toBe("disconnected");
    expect((await rejection(client.send("FQ"))).kind).toBe("disconnected");
    expect(client.connected).toBe(false);
    host.restore();
    client.close();
  });

  test("works again once the link is restored", async () => {
    const { host } = scripted(plain);
    const client = new MoonliteClient(host);
    host.sever();
    expect((await rejection(client.query("GP"))).kind).toBe("disconnected");
    host.restore();
    expect(await client.query("GP")).toBe("01F4");
    client.close();
  });

  test("refuses to mix up commands with and without replies", async () => {
    const { host } = scripted(plain);
    const client = new MoonliteClient(host);
    await expect(client.query("FG")).rejects.toThrow("has no reply");
    await expect(client.send("GP")).rejects.toThrow("has a reply");
    client.close();
  });
});
