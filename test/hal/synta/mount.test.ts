// The Synta mount: both axes on one link and one client, driven the way the SkyNode drives them (simultaneous gotos,
// then a rate loop re-commanding both axes with rates that drift and change sign).
import { afterEach, describe, expect, test } from "bun:test";
import { SyntaBoard } from "../../../hal/sim/synta-board";
import { pipePair } from "../../../hal/serial/pipe";
import { createSyntaMount } from "../../../hal/synta/mount";
import { recorder, recordingLog, SIDEREAL_DEG_S, until } from "./rig";

const CPR = 9_024_000;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function rig() {
  const [driverEnd, boardEnd] = pipePair(["mount link", "simulated board"]);
  const board = new SyntaBoard({ slewRateDegS: 20, accelDegS2: 60 });
  board.attach(boardEnd);
  const log = recordingLog();
  const synta = createSyntaMount(driverEnd, {
    ra: { home_deg: 0, min: -105, max: 105 },
    dec: { home_deg: 90, min: -90, max: 90 },
    slewRateDegS: 20,
    log,
  });
  cleanups.push(() => {
    synta.close();
    board.close();
  });
  return { board, synta, log, rec: recorder(board), mount: synta.mount };
}

describe("createSyntaMount", () => {
  test("both axes initialise on one link and slew together, each landing on its exact step", async () => {
    const { synta, mount, board } = rig();
    await synta.init();
    expect(mount.type).toBe("equatorial");
    expect(mount.ra.status().position).toBe(0);
    expect(mount.dec.status().position).toBe(90);
    const [ra, dec] = await Promise.all([mount.ra.moveTo(-12.5), mount.dec.moveTo(75)]);
    expect(ra).toEqual({ arrived: true });
    expect(dec).toEqual({ arrived: true });
    expect(board.steps(1)).toBe(Math.round((-12.5 * CPR) / 360));
    expect(board.steps(2)).toBe(Math.round((-15 * CPR) / 360));
  });

  test("a rate loop re-commanding both axes, with sign changes, tracks without errors and stops cleanly", async () => {
    const { synta, mount, board, log, rec } = rig();
    await synta.init();
    const mark = rec.mark();
    for (let tick = 0; tick < 12; tick++) {
      mount.ra.track(SIDEREAL_DEG_S * (1 + 0.01 * Math.sin(tick)));
      mount.dec.track(2e-5 * (tick % 3 === 0 ? -1 : 1));
      await Bun.sleep(50);
    }
    await until([mount.ra.changed, mount.dec.changed], () => board.moving(1) && board.moving(2), 2000, "both axes moving");
    expect(board.rateDegS(1)).toBeCloseTo(SIDEREAL_DEG_S, 4);
    // RA never changed direction: it was started once and re-timed after that.
    const raMotion = rec.since(mark).filter((c) => c.axis === "1" && c.cmd !== "f" && c.cmd !== "j").map((c) => c.cmd);
    expect(raMotion.filter((c) => c === "J")).toHaveLength(1);
    expect(raMotion.filter((c) => c === "K")).toHaveLength(0);
    await Promise.all([mount.ra.stop(), mount.dec.stop()]);
    expect(board.moving(1)).toBe(false);
    expect(board.moving(2)).toBe(false);
    expect(mount.ra.status().state).toBe("idle");
    expect(mount.dec.status().state).toBe("idle");
    expect(log.lines.filter((l) => l.startsWith("error"))).toEqual([]);
  });

  test("close stops polling", async () => {
    const { synta, board } = rig();
    await synta.init();
    synta.close();
    await new Promise((r) => setImmediate(r)); // what was written before close still arrives
    let after = 0;
    board.received.on(() => after++);
    await Bun.sleep(1200);
    expect(after).toBe(0);
  });
});
