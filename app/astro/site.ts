import { Observer } from "astronomy-engine";

/** Where the telescope stands. Geodetic latitude/longitude (east positive), height above mean sea level. */
export interface Site {
  latitude_deg: number;
  longitude_deg: number;
  elevation_m: number;
}

// One-entry cache: callers pass the same site object many times a second while tracking, and astronomy-engine
// validates every Observer it is handed, so reusing the instance skips that work. Keyed on the values, not the
// object, so a caller that mutates its Site in place still gets a fresh Observer.
let cached: { key: string; observer: Observer } | undefined;

/** The astronomy-engine Observer for a site. Throws (a string, astronomy-engine style) on an invalid latitude. */
export function observerOf(site: Site): Observer {
  const key = `${site.latitude_deg},${site.longitude_deg},${site.elevation_m}`;
  if (cached?.key !== key) cached = { key, observer: new Observer(site.latitude_deg, site.longitude_deg, site.elevation_m) };
  return cached.observer;
}
