import type { StorageStatus } from "../store/storage-status";
import type { Automation } from "./automation";
import type { Constraints } from "./constraints";
import type { HubLink } from "./hub-link";
import type { ImageWriter } from "./image-writer";
import type { LeaseKeeper } from "./lease-keeper";
import { position } from "./handlers/mount";
import type { Telescope } from "./telescope";

const MOVING_MS = 100; // at most 10 Hz while something slews or turns
const TRACKING_MS = 1000; // sidereal tracking changes alt/az slowly
const HEARTBEAT_MS = 5000; // an idle telescope still says it is alive

type Built = { kind: string; device_uid?: string; body: Record<string, unknown> };
export const IMAGER = "imager";

/** Publishes the telescope's state: each snapshot when it changes, at most 10 Hz while anything moves, 1 Hz while
 * tracking, and all of them as a heartbeat every 5 s. Unchanged snapshots are not re-sent between heartbeats. */
export class SnapshotPublisher {
  private readonly last = new Map<string, string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastTick = 0;
  private lastHeartbeat = 0;
  private stopped = false;

  constructor(
    private readonly t: Telescope,
    private readonly link: HubLink,
    private readonly leases: LeaseKeeper,
    private readonly constraints: Constraints,
    private readonly automation: Automation,
    private readonly images: ImageWriter,
    /** The upstream link's state when the appliance is federated to a hub (else null). */
    private readonly upstream: () => Record<string, unknown> | null,
    /** The data dir's storage: `{state: "ok"|"degraded"|"full", free_bytes, last_error}`. */
    private readonly storage: () => StorageStatus,
  ) {}

  start(): void {
    const d = this.t.devices;
    for (const s of [d.mount.ra.changed, d.mount.dec.changed, d.camera.changed, d.filterWheel.changed, d.focuser.changed, d.rotator.changed]) {
      s.on(() => this.soon());
    }
    for (const s of [this.leases.changed, this.constraints.changed, this.automation.changed]) s.on(() => this.soon());
    this.tick(true);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Everything again (after a reconnect: the hub may have restarted and lost its retained state). */
  republish(): void {
    this.last.clear();
    this.tick(true);
  }

  /** A change: publish now, or as soon as the 10 Hz budget allows. */
  soon(): void {
    const wait = Math.max(0, this.lastTick + MOVING_MS - Date.now());
    this.schedule(wait);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(false), delay);
  }

  private tick(forceAll: boolean): void {
    const now = Date.now();
    this.lastTick = now;
    const heartbeat = forceAll || now - this.lastHeartbeat >= HEARTBEAT_MS;
    if (heartbeat) this.lastHeartbeat = now;
    if (this.link.connected) {
      const ts = new Date(now).toISOString();
      for (const [key, built] of this.build()) {
        const json = JSON.stringify(built.body);
        if (!heartbeat && this.last.get(key) === json) continue;
        this.last.set(key, json);
        const snapshot = { ...built.body, ts };
        this.link.publish(built.kind, built.device_uid ? { device_uid: built.device_uid, snapshot } : { snapshot });
      }
    }
    const moving = this.anyMoving();
    const next = moving === "moving" ? MOVING_MS : moving === "tracking" ? TRACKING_MS : HEARTBEAT_MS - (Date.now() - this.lastHeartbeat);
    this.schedule(Math.max(10, next));
  }

  private anyMoving(): "moving" | "tracking" | null {
    const d = this.t.devices;
    const states = [d.mount.ra, d.mount.dec, d.focuser, d.rotator, d.filterWheel].map((x) => x.status().state);
    if (states.some((s) => s === "moving" || s === "stopping") || d.camera.status().state !== "idle") return "moving";
    return states.includes("tracking") ? "tracking" : null;
  }

  private *build(): Generator<[string, Built]> {
    const t = this.t;
    const d = t.devices;
    const obs = t.config.telescope.observatory_uid;
    const common = obs ? { observatory_uid: obs } : {};
    // Every device snapshot: its type (= its uid here), the imager it belongs to if any, and its own fields.
    const device = (type: string, instrument: boolean, fields: Record<string, unknown>, connected = true): [string, Built] => [
      type,
      {
        kind: "publish_device_snapshot",
        device_uid: type,
        body: { device_type: type, ...(instrument ? { instrument_uid: IMAGER } : {}), ...common, connected, ...fields },
      },
    ];
    const p = t.mount.pointing();
    const slewing = t.mount.isSlewing();
    const tracking = t.mount.isTracking();
    const target = t.mount.target();
    yield device("mount", false, {
      state: slewing ? "slewing" : tracking ? "tracking" : "idle",
      slewing,
      tracking,
      pointing: position(p),
      axes: { ha: axis(d.mount.ra.status()), dec: axis(d.mount.dec.status()) },
      target: target ? { name: target.resolved.name ?? null, type: target.request.type } : null,
      track: t.mount.trackingInfo(),
      limits: d.limits.states(),
    }, d.mount.ra.connected() && d.mount.dec.connected());
    const cam = d.camera.status();
    yield device("camera", true, {
      state: cam.state,
      exposure: cam.started_at ? { started_at: new Date(cam.started_at).toISOString(), duration_s: cam.duration_s, binning: cam.binning } : null,
      temperature_c: cam.temperature_c,
      width: d.camera.info.width,
      height: d.camera.info.height,
      binnings: d.camera.info.binnings,
      last_image_id: this.images.lastImageId,
    });
    const fw = d.filterWheel.status();
    yield device("filter_wheel", true, {
      state: fw.state,
      slot: fw.position,
      filter_id: t.currentFilter()?.id ?? null,
      filters: t.config.filter_wheel.filters.map((f) => ({ id: f.id, slot: f.slot })),
    });
    const fo = d.focuser.status();
    yield device("focuser", true, {
      state: fo.state,
      position_um: fo.position,
      target_um: fo.target,
      range_um: d.focuser.range,
      temperature_c: r(d.focuser.temperature() ?? NaN, 2),
    }, d.focuser.connected());
    const ro = d.rotator.status();
    yield device("rotator", false, { state: ro.state, angle_deg: r(ro.position, 3), target_deg: ro.target, range_deg: d.rotator.range });
    const lease = this.leases.active();
    yield [
      "telescope",
      {
        kind: "publish_telescope_snapshot",
        body: {
          ...common,
          name: t.config.telescope.name,
          mode: lease ? "manual" : "automatic",
          lease: lease ? { lease_id: lease.lease_id, holder: lease.holder, purpose: lease.purpose ?? null, expires_at: lease.expires_at } : null,
          current_task: this.automation.active(),
          safe: this.constraints.safe(),
          pointing: { ...position(p), lst_deg: r(p.lst_deg, 4) },
          // ASCOM's convention for an equatorial mount pointing normally: east of the pier while looking west
          // of the meridian (HA >= 0), west of it while looking east.
          pier_side: p.ha_deg >= 0 ? "east" : "west",
          tracking,
          slewing,
          site: t.site,
          upstream: this.upstream(),
          storage: this.storage(),
        },
      },
    ];
    yield ["constraints", { kind: "publish_constraint_snapshot", body: { ...common, constraints: this.constraints.definitions() } }];
    yield [
      "constraint_status",
      {
        kind: "publish_constraint_status_snapshot",
        body: {
          ...common,
          safe: this.constraints.safe(),
          constraints: this.constraints.status(),
          inputs: { ...t.inputs },
          limits: d.limits.states(),
        },
      },
    ];
  }
}

function axis(s: { position: number; target: number | null; state: string; rate: number }) {
  return { position_deg: r(s.position, 5), target_deg: s.target === null ? null : r(s.target, 5), state: s.state, rate_deg_s: r(s.rate, 6) };
}
const r = (x: number, d: number) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
