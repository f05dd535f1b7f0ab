import type { z } from "zod";
import { rasterGrid, type MountTrack } from "../protocol/commands";

/** Offset patterns a mount superimposes on tracking (mount.track's `offset_pattern`): pure functions of time.
 *
 * Offsets are tangent-plane arcseconds on the sky: dx toward +RA (east), dy toward +Dec (north). The caller turns
 * dx into an RA-axis offset by dividing by cos(dec). */

// The schema itself is private to commands.ts (exporting it would add a $def to the committed protocol JSON
// Schema), so the type is read off the one command that carries it.
export type OffsetPattern = NonNullable<z.output<typeof MountTrack>["offset_pattern"]>;
export type RasterPattern = Extract<OffsetPattern, { type: "raster" }>;
export type DaisyPattern = Extract<OffsetPattern, { type: "daisy" }>;

export interface Offset {
  dx_arcsec: number;
  dy_arcsec: number;
}

/** Time for one full cycle of the pattern, in seconds; offsetAt repeats with this period. */
export function patternPeriodS(pattern: OffsetPattern): number {
  switch (pattern.type) {
    case "raster": {
      const { nx, ny } = rasterGrid(pattern);
      return nx * ny * pattern.dwell_s;
    }
    case "daisy":
      return pattern.period_s;
  }
}

/** The offset at `t_s` seconds after the pattern started (any real t; the pattern is periodic).
 *
 * Raster: a boustrophedon grid of nx = floor(width/step)+1 columns by ny = floor(height/step)+1 rows, spaced
 * `step`, centred on the target. Point k = floor(t/dwell) mod (nx·ny) sits in row j = floor(k/nx) and column
 * i = k mod nx on even rows, nx−1−(k mod nx) on odd rows;
 *   dx = (i − (nx−1)/2)·step,  dy = (j − (ny−1)/2)·step.
 * It starts at the (−x, −y) corner, dwells `dwell_s` per point, jumps instantly between points, and after the last
 * point starts again at the first.
 *
 * Daisy: P = petals equal petals of a rose traced once per period T, with θ = 2π·t/T and
 *   r = R·|sin(P·θ/2)|,  dx = r·cos θ,  dy = r·sin θ.
 * r is 0 at θ = 2πm/P (t = m·T/P), so it starts and ends each cycle (and each petal) on the target, and reaches
 * R at the petal tips θ = (2m+1)π/P, which are evenly spaced around the target; the first tip points at θ = π/P
 * measured from +dx toward +dy. */
export function offsetAt(pattern: OffsetPattern, t_s: number): Offset {
  const period = patternPeriodS(pattern);
  const t = positiveMod(t_s, period);
  switch (pattern.type) {
    case "raster":
      return rasterAt(pattern, t);
    case "daisy":
      return daisyAt(pattern, t);
  }
}

function positiveMod(x: number, m: number): number {
  const r = x % m;
  return r < 0 ? r + m : r;
}

function rasterAt(p: RasterPattern, t: number): Offset {
  const { nx, ny } = rasterGrid(p);
  const k = Math.min(Math.floor(t / p.dwell_s), nx * ny - 1);
  const j = Math.floor(k / nx);
  const col = k % nx;
  const i = j % 2 === 0 ? col : nx - 1 - col;
  return { dx_arcsec: (i - (nx - 1) / 2) * p.step_arcsec, dy_arcsec: (j - (ny - 1) / 2) * p.step_arcsec };
}

function daisyAt(p: DaisyPattern, t: number): Offset {
  const theta = (2 * Math.PI * t) / p.period_s;
  const r = p.radius_arcsec * Math.abs(Math.sin((p.petals * theta) / 2));
  return { dx_arcsec: r * Math.cos(theta), dy_arcsec: r * Math.sin(theta) };
}
