// The simulated Moonlite controller, driven over an in-memory pipe with a hand-wound clock: it answers like the
// firmware and moves at a constant step rate computed from the clock.
import { describe, expect, test } from "bun:test";
import { MoonliteClient } from "../../../hal/moonlite/client";
import { decodePosition, decodeTemperature, encodePosition } from "../../../hal/moonlite/codec";
import { pipePair } from "../../../hal/serial/pipe";
import { MoonliteDevice, type MoonliteDeviceOptions } from "../../../hal/sim/moonlite-device";

function rig(opts: Partial<MoonliteDeviceOptions> = {}) {
  let t = 0;
  const device = new MoonliteDevice({ position: 1000, stepsPerS: 100, now: () => t, ...opts });
  const [host, end] = pipePair(["host", "device"]);
  device.attach(end);
  const client = new MoonliteClient(host, { timeoutMs: 50, retries: 0 });
  const gp = async () => decodePosition(await client.query("GP"));
  const moving = async () => (await client.query("GI")) === "01";
  // The pipe delivers on the next turn of the event loop: let the commands sent so far arrive, then wind the clock.
  const delivered = () => new Promise((r) => setImmediate(r));
  const advance = async (ms: number) => {
    await delivered();
    t += ms;
  };
  return { device, host, end, client, gp, moving, advance, delivered };
}

describe("MoonliteDevice", () => {
  test("reports its settings and position", async () => {
    const { client } = rig({ version: "35" });
    expect(await client.query("GP")).toBe("03E8");
    expect(await client.query("GN")).toBe("03E8");
    expect(await client.query("GI")).toBe("00");
    expect(await client.query("GD")).toBe("02");
    expect(await client.query("GH")).toBe("00");
    expect(await client.query("GV")).toBe("35");
    client.close();
  });

  test("moves to the target at a constant step rate, then reports it stopped", async () => {
    const { client, gp, moving, advance, device } = rig();
    await client.send(`SN${encodePosition(1500)}`);
    expect(await client.query("GN")).toBe(encodePosition(1500));
    expect(await gp()).toBe(1000); // SN alone does not move
    await client.send("FG");
    expect(await moving()).toBe(true);
    await advance(1000);
    expect(await gp()).toBe(1100);
    await advance(2555);
    expect(await gp()).toBe(1355);
    expect(await moving()).toBe(true);
    await advance(10_000);
    expect(await gp()).toBe(1500);
    expect(await moving()).toBe(false);
    expect(device.position()).toBe(1500);
    // And back down, exactly.
    await client.send(`SN${encodePosition(3)}`);
    await client.send("FG");
    await advance(1000);
    expect(await gp()).toBe(1400);
    await advance(100_000);
    expect(await gp()).toBe(3);
    client.close();
  });

  test("FQ stops at once; SP syncs the counter and stops", async () => {
    const { client, gp, moving, advance } = rig();
    await client.send("SN0000");
    await client.send("FG");
    await advance(2000);
    await client.send("FQ");
    expect(await moving()).toBe(false);
    await advance(5000);
    expect(await gp()).toBe(800);
    await client.send("FG"); // the target register still holds 0
    await advance(1000);
    await client.send(`SP${encodePosition(5000)}`);
    expect(await moving()).toBe(false);
    await advance(5000);
    expect(await gp()).toBe(5000);
    client.close();
  });

  test("the step delay sets the rate and may change mid-move; half/full step is recorded", async () => {
    const { client, gp, advance } = rig();
    await client.send("SD04");
    expect(await client.query("GD")).toBe("04");
    await client.send(`SN${encodePosition(2000)}`);
    await client.send("FG");
    await advance(1000);
    expect(await gp()).toBe(1050);
    await client.send("SD20");
    await advance(1600);
    expect(await gp()).toBe(1060);
    await client.send("SH");
    expect(await client.query("GH")).toBe("FF");
    await client.send("SF");
    expect(await client.query("GH")).toBe("00");
    client.close();
  });

  test("never drives past the ends of travel", async () => {
    const { client, gp, moving, advance } = rig({ maxStep: 1200 });
    await client.send(`SN${encodePosition(0xffff)}`);
    await client.send("FG");
    await advance(60_000);
    expect(await gp()).toBe(1200);
    expect(await moving()).toBe(false);
    client.close();
  });

  test("temperature: GT reports the last conversion, which :C# starts and takes a moment", async () => {
    const { client, device, advance } = rig({ temperatureC: 14.5 });
    const gt = async () => decodeTemperature(await client.query("GT"));
    expect(await gt()).toBe(14.5); // converted at power-on
    device.setTemperature(-3.2);
    expect(await gt()).toBe(14.5);
    await client.send("C");
    expect(await gt()).toBe(14.5);
    await advance(150);
    expect(await gt()).toBe(-3);
    client.close();
  });

  test("ignores unknown commands and bytes outside frames, as the firmware does", async () => {
    const { client, host, gp } = rig();
    host.write(new TextEncoder().encode("garbage\r\n:ZZ#:XY12#:G"));
    await client.send("QQ");
    expect(await gp()).toBe(1000);
    expect(await client.query("GI")).toBe("00");
    client.close();
  });

  test("a muted controller answers nothing and acts on nothing until unmuted", async () => {
    const { client, device, gp, advance, delivered } = rig();
    device.mute(true);
    await expect(client.query("GP")).rejects.toMatchObject({ kind: "fault" });
    await client.send("SN0000");
    await client.send("FG");
    await delivered();
    device.mute(false);
    await advance(1000);
    expect(await gp()).toBe(1000);
    client.close();
  });

  test("keeps its state across a severed cable", async () => {
    const { client, host, gp, advance, delivered } = rig();
    await client.send(`SN${encodePosition(1100)}`);
    await client.send("FG");
    await delivered();
    host.sever();
    await advance(500);
    host.restore();
    expect(await gp()).toBe(1050);
    client.close();
  });
});
