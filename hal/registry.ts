import type { Camera } from "./camera";
import type { FilterWheel } from "./filter-wheel";
import type { Focuser } from "./focuser";
import type { Mount } from "./mount";
import type { Rotator } from "./rotator";
import { SimCamera, type SkyScene } from "./sim/camera";
import { SimFilterWheel } from "./sim/filter-wheel";
import { SimFocuser } from "./sim/focuser";
import { SimMountAxis } from "./sim/mount-axis";
import { SimRotator } from "./sim/rotator";

/** The device settings the registry reads (the app's validated config has this shape; hal does not import it). */
export interface DevicesConfig {
  mount: { driver: string; slew_rate_deg_s: number; accel_deg_s2: number; ha_limit_deg: number };
  focuser: {
    driver: string;
    min_um: number;
    max_um: number;
    step_um: number;
    speed_um_s: number;
    accel_um_s2: number;
    sim_position_um: number;
    sim_best_focus_um: number;
  };
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
}

/** Builds the telescope's devices from config (DESIGN.md §4). The camera simulator is told what the optics see
 * through `scene`, which the SkyNode provides. */
export function createDevices(config: DevicesConfig, scene: SkyScene): Devices {
  for (const [device, driver] of [["mount", config.mount.driver], ["focuser", config.focuser.driver]] as const) {
    if (driver !== "sim") {
      throw new Error(`[${device}] driver = "${driver}" is not available in this build yet: use "sim"`);
    }
  }
  const m = config.mount;
  const axis = (name: "ra" | "dec", min: number, max: number, position: number) =>
    new SimMountAxis(name, { position, min, max, speed: m.slew_rate_deg_s, accel: m.accel_deg_s2 });
  const f = config.focuser;
  const r = config.rotator;
  const c = config.camera;
  return {
    // Parked pointing at the celestial pole: hour angle 0, declination +90 (south: -90).
    // The hour-angle axis' hard range lies 15° beyond the software limit the SkyNode enforces.
    mount: { type: "equatorial", ra: axis("ra", -m.ha_limit_deg - 15, m.ha_limit_deg + 15, 0), dec: axis("dec", -90, 90, 90) },
    focuser: new SimFocuser({
      position: f.sim_position_um,
      min: f.min_um,
      max: f.max_um,
      speed: f.speed_um_s,
      accel: f.accel_um_s2,
      step: f.step_um,
    }),
    rotator: new SimRotator({ position: 0, min: r.min_deg, max: r.max_deg, speed: r.speed_deg_s, accel: r.accel_deg_s2 }),
    filterWheel: new SimFilterWheel(Math.max(...config.filter_wheel.filters.map((x) => x.slot)), config.filter_wheel.seconds_per_slot),
    camera: new SimCamera(
      {
        width: c.width,
        height: c.height,
        pixel_um: c.pixel_um,
        binnings: c.binnings,
        focal_length_mm: c.focal_length_mm,
        aperture_mm: c.aperture_mm,
        seeing_arcsec: c.sim_seeing_arcsec,
        best_focus_um: f.sim_best_focus_um,
        readout_s: c.readout_s,
        sky_e_per_s: c.sim_sky_e_per_s,
        read_noise_e: c.sim_read_noise_e,
        gain_e_per_adu: c.gain_e_per_adu,
        bias_adu: c.bias_adu,
      },
      scene,
    ),
  };
}
