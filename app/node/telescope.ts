import type { Logger } from "pino";
import type { SkyScene } from "../../hal/sim/camera";
import { createDevices, type Devices } from "../../hal/registry";
import { brightStarsNear } from "../astro/catalog";
import type { Site } from "../astro/site";
import type { Config } from "../config/schema";
import { MountControl } from "./mount-control";

export type Filter = Config["filter_wheel"]["filters"][number];

/** The telescope as the SkyNode sees it: its devices (from the HAL registry), its site and limits, the mount
 * control, and what the simulated optics see. */
export class Telescope {
  readonly uid: string;
  readonly site: Site;
  readonly devices: Devices;
  readonly mount: MountControl;
  private readonly filtersById: Map<string, Filter>;
  private readonly filtersBySlot: Map<number, Filter>;
  /** Simulated environment inputs (weather station, roof), changed at run time through the REST API. */
  readonly inputs: { weather_safe: boolean; roof_open: boolean };

  constructor(
    readonly config: Config,
    log: Logger,
  ) {
    this.uid = config.telescope.uid;
    this.site = config.site;
    this.filtersById = new Map(config.filter_wheel.filters.map((f) => [f.id, f]));
    this.filtersBySlot = new Map(config.filter_wheel.filters.map((f) => [f.slot, f]));
    this.inputs = { weather_safe: config.constraints.sim_weather_safe, roof_open: config.constraints.sim_roof_open };
    const scene: SkyScene = {
      pointing: () => {
        const p = this.mount.pointing();
        // Below the horizon or under a closed roof the camera sees no stars.
        if (p.alt_deg < 0 || !this.inputs.roof_open) return null;
        return { ra_deg: p.ra_deg, dec_deg: p.dec_deg, rotation_deg: this.devices.rotator.status().position };
      },
      focuserPosition: () => this.devices.focuser.status().position,
      throughput: () => this.currentFilter()?.throughput ?? 0,
      brightStars: (ra, dec, r) => brightStarsNear(ra, dec, r).map((s) => ({ ra_deg: s.ra_deg, dec_deg: s.dec_deg, mag: s.mag })),
    };
    this.devices = createDevices(config, scene, log.child({ layer: "hal" }));
    this.mount = new MountControl(this.devices.mount, this.site, config.mount, log.child({ device: "mount" }));
  }

  filter(id: string): Filter | undefined {
    return this.filtersById.get(id);
  }

  filterIds(): string[] {
    return [...this.filtersById.keys()];
  }

  /** The filter in the light path, or undefined while the wheel turns or sits on an empty slot. */
  currentFilter(): Filter | undefined {
    const s = this.devices.filterWheel.status();
    return s.state === "idle" ? this.filtersBySlot.get(s.position) : undefined;
  }
}
