import { separationDeg } from "./angles";
import { MESSIER } from "./catalog-messier";
import { STARS } from "./catalog-stars";
import type { CatalogEntry, CatalogKind } from "./catalog-types";

export type { CatalogEntry, CatalogKind } from "./catalog-types";

/** The built-in named-target catalog (110 Messier objects, ~160 bright stars) and lookups over it. */

/** "05 34 31.9" (hours or degrees, minutes, seconds) → decimal. The sign is read from the text so "-00 49 24"
 * stays negative. */
function sexagesimal(text: string): number {
  const [a = "0", b = "0", c = "0"] = text.trim().split(/\s+/);
  const magnitude = Math.abs(Number(a)) + Number(b) / 60 + Number(c) / 3600;
  return text.trim().startsWith("-") ? -magnitude : magnitude;
}

const GREEK: Record<string, string> = {
  alf: "alpha", bet: "beta", gam: "gamma", del: "delta", eps: "epsilon", zet: "zeta", eta: "eta", tet: "theta",
  iot: "iota", kap: "kappa", lam: "lambda", mu: "mu", nu: "nu", ksi: "xi", omi: "omicron", pi: "pi", rho: "rho",
  sig: "sigma", tau: "tau", ups: "upsilon", phi: "phi", chi: "chi", psi: "psi", ome: "omega",
};

/** "gam2 Vel" → ["gam2 Vel", "Gamma2 Vel"]: users type either the SIMBAD abbreviation or the spelled-out letter. */
function bayerAliases(bayer: string): string[] {
  const m = /^([a-z]+)(\d*) (\w+)$/.exec(bayer);
  const letter = m?.[1] && GREEK[m[1]];
  if (!m || !letter) return [bayer];
  return [bayer, `${letter[0]!.toUpperCase()}${letter.slice(1)}${m[2]} ${m[3]}`];
}

// Frozen because findNamed hands out the shared objects themselves.
const ENTRIES: readonly CatalogEntry[] = [
  ...MESSIER.map(([n, ra, dec, mag, kind, aliases]) => ({
    name: `M${n}`,
    aliases: [...aliases],
    ra_deg: sexagesimal(ra) * 15,
    dec_deg: sexagesimal(dec),
    mag,
    kind,
  })),
  ...STARS.map(([name, bayer, ra, dec, mag, aliases]) => ({
    name,
    aliases: [...bayerAliases(bayer), ...aliases],
    ra_deg: sexagesimal(ra) * 15,
    dec_deg: sexagesimal(dec),
    mag,
    kind: "star" as const,
  })),
].map((e) => Object.freeze({ ...e, aliases: Object.freeze(e.aliases) as string[] }));

/** Lookup key: case, spacing, punctuation and accents don't matter, and catalogue numbers lose leading zeros and
 * the long form, so "M 031", "Messier 31", "m31" and "NGC0224" all land on the same key. */
export function normalizeName(name: string): string {
  const flat = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[\s'’._-]+/g, "");
  const designation = /^(messier|m|ngc|ic)0*(\d+)$/.exec(flat);
  if (!designation) return flat;
  const prefix = designation[1] === "messier" ? "m" : designation[1];
  return `${prefix}${designation[2]}`;
}

const BY_KEY: ReadonlyMap<string, CatalogEntry> = (() => {
  const map = new Map<string, CatalogEntry>();
  for (const entry of ENTRIES) {
    for (const label of [entry.name, ...(entry.aliases ?? [])]) {
      const key = normalizeName(label);
      // A clash is a data bug; the catalog test checks for it, so keep the first rather than throw at import.
      if (!map.has(key)) map.set(key, entry);
    }
  }
  return map;
})();

/** Catalog entry for a name or alias ("M31", "m 31", "Messier 31", "NGC 224", "Andromeda Galaxy", "Vega",
 * "alpha Lyr"), or null. */
export function findNamed(name: string): CatalogEntry | null {
  return BY_KEY.get(normalizeName(name)) ?? null;
}

/** Catalog stars within `radius_deg` of a J2000 position, nearest first. */
export function brightStarsNear(ra_deg: number, dec_deg: number, radius_deg: number): CatalogEntry[] {
  return ENTRIES.filter((e) => e.kind === "star")
    .map((e) => ({ e, d: separationDeg(ra_deg, dec_deg, e.ra_deg, e.dec_deg) }))
    .filter(({ d }) => d <= radius_deg)
    .sort((a, b) => a.d - b.d)
    .map(({ e }) => e);
}

/** Canonical names of every entry: Messier objects in number order, then the stars. */
export function catalogNames(): string[] {
  return ENTRIES.map((e) => e.name);
}

/** Every entry (read-only view), for clients that want to list or search the catalog themselves. */
export function catalogEntries(): readonly CatalogEntry[] {
  return ENTRIES;
}

/** What a search offers: catalog entries and the solar-system bodies, by name. */
export interface CatalogMatch {
  name: string;
  kind: CatalogKind | "solar_system";
  ra_deg?: number;
  dec_deg?: number;
  mag?: number;
  aliases?: string[];
}

const BODIES = ["Sun", "Moon", "Mercury", "Venus", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune", "Pluto"];

/** Entries whose name or an alias is `query` (as normalizeName sees it), then those starting with it, then those
 * containing it; brighter first within each group. Bodies move: they carry no position. */
export function searchCatalog(query: string, limit = 10): CatalogMatch[] {
  const q = normalizeName(query);
  if (!q) return [];
  const scored: { m: CatalogMatch; rank: number; mag: number }[] = [];
  for (const body of BODIES) {
    const key = normalizeName(body);
    if (key.includes(q)) scored.push({ m: { name: body, kind: "solar_system" }, rank: key === q ? 0 : key.startsWith(q) ? 1 : 2, mag: -30 });
  }
  for (const e of ENTRIES) {
    const keys = [e.name, ...(e.aliases ?? [])].map(normalizeName);
    const rank = keys.includes(q) ? 0 : keys.some((k) => k.startsWith(q)) ? 1 : keys.some((k) => k.includes(q)) ? 2 : -1;
    if (rank < 0) continue;
    scored.push({ m: { name: e.name, kind: e.kind, ra_deg: e.ra_deg, dec_deg: e.dec_deg, mag: e.mag, aliases: e.aliases }, rank, mag: e.mag });
  }
  return scored
    .sort((a, b) => a.rank - b.rank || a.mag - b.mag)
    .slice(0, limit)
    .map((s) => s.m);
}
