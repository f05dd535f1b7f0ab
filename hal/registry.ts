import type { Camera } from "./camera";
import type { FilterWheel } from "./filter-wheel";
import type { Focuser } from "./focuser";
import type { GpioChip } from "./gpio/chip";
import { openGpioChip } from "./gpio/chardev";
import { LimitGuard, type LimitSwitch } from "./limits/limit-guard";
import type { HalLog } from "./log";
import { MoonliteFocuser } from "./moonlite/focuser";
import type { Mount, MountAxis } from "./mount";
import type { Rotator } from "./rotator";
import type { ByteDuplex } from "./serial/duplex";
import { openLink, type LinkConfig } from "./serial/open-link";
import { SerialPort } from "./serial/port";
import { SimCamera, type SkyScene } from "./sim/camera";
import { SimFilterWheel } from "./sim/filter-wheel";
import { SimFocuser } from "./sim/focuser";
import { SimGpioChip } from "./sim/gpio-chip";
import { wireSimLimits, type AxisProbe } from "./sim/limit-wiring";
import { MoonliteDevice } from "./sim/moonlite-device";
import { SimMountAxis } from "./sim/mount-axis";
import { SimRotator } from "./sim/rotator";
import { SyntaBoard } from "./sim/synta-board";
import { createSyntaMount } from "./synta/mount";

type SerialConfig = LinkConfig & { timeout_ms: number; retries: number };

/** The device settings the registry reads (the app's validated config has this shape; hal does not import it). */
export interface DevicesConfig {
  mount: SerialConfig & {
    driver: "synta" | "sim";
    slew_rate_deg_s: number;
    accel_deg_s2: number;
    ha_limit_deg: number;
    ra_reverse: boolean;
    dec_reverse: boolean;
  };
  focuser: SerialConfig & {
    driver: "moonlite" | "sim";
    min_um: number;
    max_um: number;
    step_um: number;
    speed_um_s: number;
    accel_um_s2: number;
    sim_position_um: number;
    sim_best_focus_um: number;
  };
  limits: (LimitSwitch & { chip?: string; sim_at_deg?: number })[];
  rotator: { min_deg: number; max_deg: number; speed_deg_s: number; accel_deg_s2: number };
  camera: {
    width: number;
    height: number;
    pixel_um: number;
    binnings: number[];
    readout_s: number;
    focal_length_mm: number;
    aperture_mm: number;
    sim_seeing_arcsec: number;
    sim_sky_e_per_s: number;
    sim_read_noise_e: number;
    gain_e_per_adu: number;
    bias_adu: number;
  };
  filter_wheel: { seconds_per_slot: number; filters: { slot: number }[] };
}

export interface Devices {
  mount: Mount;
  camera: Camera;
  filterWheel: FilterWheel;
  focuser: Focuser;
  rotator: Rotator;
  /** The limit switches of the mount's axes (the mount's axes are already behind them). */
  limits: LimitGuard;
  /** The GPIO chips the limit switches are on (a simulated one for the switches without a `chip`). */
  chips: GpioChip[];
  /** Settles once every serial device has finished its first initialisation, answered or not (one that did not
   * keeps retrying and shows as disconnected): until then its snapshot says nothing useful. */
  ready: Promise<void>;
  /** Closes ports, GPIO requests and simulator timers (after the SkyNode has stopped everything). */
  close(): Promise<void>;
}

/** Parked pointing at the celestial pole: hour angle 0, declination +90. */
const HOME = { ra: 0, dec: 90 };

/** Builds the telescope's devices from config (DESIGN.md §4). Drivers come up by themselves: a serial device that
 * is absent at start-up shows as disconnected and is initialised when it appears. The camera simulator is told what
 * the optics see through `scene`, which the SkyNode provides. */
export function createDevices(config: DevicesConfig, scene: SkyScene, log: HalLog): Devices {
  const closers: (() => unknown)[] = [];
  const inits: Promise<void>[] = [];
  const { axes, probes } = createMountAxes(config, log, closers, inits);
  const banks = openLimitBanks(config.limits, log);
  const limits = new LimitGuard(banks, axes, log);
  for (const { chip, switches } of banks) {
    if (chip instanceof SimGpioChip && probes) closers.push(wireSimLimits(chip, probes, switches));
  }
  closers.push(() => limits.release(), ...banks.map(({ chip }) => () => chip.close()));
  const focuser = createFocuser(config, log, closers, inits);
  const camera = createCamera(config, scene);
  closers.push(() => camera.close());
  const r = config.rotator;
  return {
    mount: { type: "equatorial", ra: limits.ra, dec: limits.dec },
    focuser,
    rotator: new SimRotator({ position: 0, min: r.min_deg, max: r.max_deg, speed: r.speed_deg_s, accel: r.accel_deg_s2 }),
    filterWheel: new SimFilterWheel(Math.max(...config.filter_wheel.filters.map((x) => x.slot)), config.filter_wheel.seconds_per_slot),
    camera,
    limits,
    chips: banks.map((b) => b.chip),
    ready: Promise.allSettled(inits).then(() => {}),
    async close() {
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
}

function createMountAxes(
  config: DevicesConfig,
  log: HalLog,
  closers: (() => unknown)[],
  inits: Promise<void>[],
): { axes: { ra: MountAxis; dec: MountAxis }; probes: { ra: AxisProbe; dec: AxisProbe } | null } {
  const m = config.mount;
  // The hour-angle axis' hard range lies 15° beyond the software limit the SkyNode enforces.
  const ranges = { ra: { min: -m.ha_limit_deg - 15, max: m.ha_limit_deg + 15 }, dec: { min: -90, max: 90 } };
  if (m.driver === "sim") {
    const axis = (name: "ra" | "dec") => new SimMountAxis(name, { position: HOME[name], ...ranges[name], speed: m.slew_rate_deg_s, accel: m.accel_deg_s2 });
    const ra = axis("ra");
    const dec = axis("dec");
    const probe = (a: SimMountAxis): AxisProbe => ({
      angle: () => a.status().position,
      rate: () => a.status().rate,
      moving: () => a.status().state !== "idle",
      motion: a.changed,
    });
    return { axes: { ra, dec }, probes: { ra: probe(ra), dec: probe(dec) } };
  }
  let board: SyntaBoard | null = null;
  const link = openLink("mount", m, log, (deviceEnd) => {
    board = new SyntaBoard({ slewRateDegS: m.slew_rate_deg_s, accelDegS2: m.accel_deg_s2 });
    board.attach(deviceEnd);
  });
  const synta = createSyntaMount(link, {
    ra: { home_deg: HOME.ra, ...ranges.ra, reverse: m.ra_reverse },
    dec: { home_deg: HOME.dec, ...ranges.dec, reverse: m.dec_reverse },
    slewRateDegS: m.slew_rate_deg_s,
    timeoutMs: m.timeout_ms,
    retries: m.retries,
    log,
  });
  inits.push(firstOpen(link, m.timeout_ms).then(() => synta.init()).catch((err: Error) => log.warn({ err: err.message }, "mount not ready yet; it is initialised when it answers")));
  closers.push(() => synta.close(), () => link.close());
  const b: SyntaBoard | null = board;
  return { axes: { ra: synta.mount.ra, dec: synta.mount.dec }, probes: b ? syntaProbes(b, m) : null };
}

function syntaProbes(board: SyntaBoard, m: DevicesConfig["mount"]): { ra: AxisProbe; dec: AxisProbe } {
  const probe = (axis: 1 | 2, home: number, reverse: boolean): AxisProbe => ({
    angle: () => board.angleDeg(axis, home, reverse),
    rate: () => board.rateDegS(axis, reverse),
    moving: () => board.moving(axis),
    motion: board.motion,
  });
  return { ra: probe(1, HOME.ra, m.ra_reverse), dec: probe(2, HOME.dec, m.dec_reverse) };
}

/** A serial port opens asynchronously: the first initialisation waits for it (briefly: a device absent at start-up
 * is initialised whenever it appears). */
function firstOpen(link: ByteDuplex, timeoutMs: number): Promise<void> {
  return link instanceof SerialPort ? link.whenConnected(timeoutMs).catch(() => {}) : Promise.resolve();
}

/** The simulated chip whose edges go through the real reader thread (its reflexes, its failures and restarts), as a
 * real chip's do: for tests and benchmarks of that path without GPIO hardware. */
const SIM_THREAD_CHIP = "sim-thread";

/** One GPIO chip per distinct `chip` of the switches; the switches without one share a simulated chip. */
function openLimitBanks(switches: DevicesConfig["limits"], log: HalLog): { chip: GpioChip; switches: DevicesConfig["limits"] }[] {
  const groups = Map.groupBy(switches, (s) => (s.chip === "sim" ? "" : (s.chip ?? "")));
  return [...groups].map(([name, members]) => {
    if (!name || name === SIM_THREAD_CHIP) {
      const lines = Math.max(64, ...members.map((l) => l.line + 1));
      const chip = name ? new SimGpioChip({ label: `skynode-${name}`, lines, readerThread: true, log }) : new SimGpioChip({ label: "skynode-sim", lines });
      return { chip, switches: members };
    }
    const chip = openGpioChip(name.startsWith("/") ? { path: name } : { label: name });
    log.info({ chip: chip.info.name, label: chip.info.label, lines: chip.info.lines }, "GPIO chip opened");
    return { chip, switches: members };
  });
}

function createFocuser(config: DevicesConfig, log: HalLog, closers: (() => unknown)[], inits: Promise<void>[]): Focuser {
  const f = config.focuser;
  if (f.driver === "sim") {
    return new SimFocuser({ position: f.sim_position_um, min: f.min_um, max: f.max_um, speed: f.speed_um_s, accel: f.accel_um_s2, step: f.step_um });
  }
  const link: ByteDuplex = openLink("focuser", f, log, (deviceEnd) => {
    new MoonliteDevice({ position: Math.round(f.sim_position_um / f.step_um), stepsPerS: f.speed_um_s / f.step_um }).attach(deviceEnd);
  });
  const focuser = new MoonliteFocuser(link, { stepUm: f.step_um, minUm: f.min_um, maxUm: f.max_um, speedUmS: f.speed_um_s, timeoutMs: f.timeout_ms, retries: f.retries, log });
  inits.push(firstOpen(link, f.timeout_ms).then(() => focuser.init()).catch((err: Error) => log.warn({ err: err.message }, "focuser not ready yet; it is initialised when it answers")));
  closers.push(() => focuser.close(), () => link.close());
  return focuser;
}

function createCamera(config: DevicesConfig, scene: SkyScene): SimCamera {
  const c = config.camera;
  return new SimCamera(
    {
      width: c.width,
      height: c.height,
      pixel_um: c.pixel_um,
      binnings: c.binnings,
      focal_length_mm: c.focal_length_mm,
      aperture_mm: c.aperture_mm,
      seeing_arcsec: c.sim_seeing_arcsec,
      best_focus_um: config.focuser.sim_best_focus_um,
      readout_s: c.readout_s,
      sky_e_per_s: c.sim_sky_e_per_s,
      read_noise_e: c.sim_read_noise_e,
      gain_e_per_adu: c.gain_e_per_adu,
      bias_adu: c.bias_adu,
    },
    scene,
  );
}
