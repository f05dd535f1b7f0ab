/** Analytic one-dimensional motion: where a simulated device is at any instant, computed from the profile it is
 * following rather than by ticking, so an idle or cruising simulator costs nothing between queries. */
export interface Profile {
  /** Position and velocity at time t (ms). */
  at(t: number): { p: number; v: number };
  /** When the profile ends (ms; Infinity for constant-rate motion) and where. */
  readonly end: number;
  readonly endPosition: number;
}

export function hold(p: number, t0 = 0): Profile {
  return { at: () => ({ p, v: 0 }), end: t0, endPosition: p };
}

export function constantRate(p0: number, v: number, t0: number): Profile {
  return { at: (t) => ({ p: p0 + (v * (t - t0)) / 1000, v }), end: Infinity, endPosition: NaN };
}

/** From rest at p0 to rest at p1: accelerate, cruise at vmax, decelerate (triangular when too short to cruise). */
export function trapezoid(p0: number, p1: number, vmax: number, accel: number, t0: number): Profile {
  const d = Math.abs(p1 - p0);
  const dir = Math.sign(p1 - p0);
  if (d === 0) return hold(p1, t0);
  const tAcc = Math.min(vmax / accel, Math.sqrt(d / accel));
  const dAcc = 0.5 * accel * tAcc * tAcc;
  const vPeak = accel * tAcc;
  const tCruise = (d - 2 * dAcc) / vPeak;
  const total = 2 * tAcc + tCruise;
  return {
    end: t0 + total * 1000,
    endPosition: p1,
    at(t) {
      const s = Math.min(Math.max((t - t0) / 1000, 0), total);
      let dist: number;
      let v: number;
      if (s < tAcc) {
        dist = 0.5 * accel * s * s;
        v = accel * s;
      } else if (s < tAcc + tCruise) {
        dist = dAcc + vPeak * (s - tAcc);
        v = vPeak;
      } else {
        const r = total - s;
        dist = d - 0.5 * accel * r * r;
        v = accel * r;
      }
      return { p: p0 + dir * dist, v: s >= total ? 0 : dir * v };
    },
  };
}

/** From velocity v0 at p0 to rest, decelerating at `accel`. */
export function decelerate(p0: number, v0: number, accel: number, t0: number): Profile {
  const total = Math.abs(v0) / accel;
  const dir = Math.sign(v0);
  const endPosition = p0 + dir * 0.5 * accel * total * total;
  return {
    end: t0 + total * 1000,
    endPosition,
    at(t) {
      const s = Math.min(Math.max((t - t0) / 1000, 0), total);
      return { p: p0 + v0 * s - dir * 0.5 * accel * s * s, v: s >= total ? 0 : v0 - dir * accel * s };
    },
  };
}
