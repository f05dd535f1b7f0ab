import { describe, expect, test } from "bun:test";
import { Constellation } from "astronomy-engine";
import { brightStarsNear, catalogEntries, catalogNames, findNamed, normalizeName } from "../../app/astro/catalog";
import { separationDeg } from "../../app/astro/angles";

const ARCMIN = 1 / 60;

/** Constellation of each Messier object, M1..M110, from the standard lists; astronomy-engine's IAU boundary lookup
 * must agree, which catches any position that is off by more than a slip of the pen. */
const MESSIER_CONSTELLATIONS = (
  "Tau Aqr CVn Sco Ser Sco Sco Sgr Oph Oph Sct Oph Her Oph Peg Ser Sgr Sgr Oph Sgr " +
  "Sgr Sgr Sgr Sgr Sgr Sct Vul Sgr Cyg Cap And And Tri Per Gem Aur Aur Aur Cyg UMa " +
  "CMa Ori Ori Cnc Tau Pup Pup Hya Vir Mon CVn Cas Com Sgr Sgr Lyr Lyr Vir Vir Vir " +
  "Vir Oph CVn Com Leo Leo Cnc Hya Sgr Sgr Sge Aqr Aqr Psc Sgr Per Cet Ori Lep Sco " +
  "UMa UMa Hya Vir Com Vir Vir Com Vir Vir Com Her Pup CVn Leo Leo UMa Com Com Com " +
  "UMa Dra Cas Vir Leo CVn Oph UMa UMa And"
).split(" ");

describe("catalog contents", () => {
  test("has all 110 Messier objects, each once", () => {
    const messier = catalogNames().filter((n) => /^M\d+$/.test(n));
    expect(messier.length).toBe(110);
    for (let n = 1; n <= 110; n++) expect(messier).toContain(`M${n}`);
  });

  test("has at least 100 named stars, including the ones people ask for", () => {
    const stars = catalogEntries().filter((e) => e.kind === "star");
    expect(stars.length).toBeGreaterThanOrEqual(100);
    for (const name of [
      "Sirius", "Vega", "Betelgeuse", "Polaris", "Deneb", "Altair", "Arcturus", "Capella", "Rigel", "Procyon", "Aldebaran",
      "Spica", "Antares", "Fomalhaut", "Pollux", "Regulus", "Castor", "Bellatrix", "Alnilam", "Mizar", "Dubhe", "Canopus",
      "Achernar", "Rigil Kentaurus", "Hadar", "Acrux", "Mimosa", "Alioth", "Alkaid", "Merak", "Phecda", "Megrez",
    ])
      expect(findNamed(name)?.name).toBe(name);
  });

  test("no two entries share a name or alias (after normalisation)", () => {
    const seen = new Map<string, string>();
    for (const e of catalogEntries())
      for (const label of [e.name, ...(e.aliases ?? [])]) {
        const key = normalizeName(label);
        const owner = seen.get(key);
        if (owner !== undefined && owner !== e.name) throw new Error(`"${label}" used by both ${owner} and ${e.name}`);
        seen.set(key, e.name);
      }
  });

  test("every position is a valid J2000 coordinate with a plausible magnitude", () => {
    for (const e of catalogEntries()) {
      expect(e.ra_deg).toBeGreaterThanOrEqual(0);
      expect(e.ra_deg).toBeLessThan(360);
      expect(Math.abs(e.dec_deg)).toBeLessThanOrEqual(90);
      expect(e.mag).toBeGreaterThan(-2);
      expect(e.mag).toBeLessThan(11);
    }
  });

  test("reference positions: M31, Vega, Sirius, Polaris, Betelgeuse (to an arcminute)", () => {
    const cases: [string, number, number][] = [
      ["M31", 10.6847, 41.2688],
      ["Vega", 279.2347, 38.7837],
      ["Sirius", 101.2872, -16.7161],
      ["Polaris", 37.9529, 89.2641],
      ["Betelgeuse", 88.7929, 7.4071],
      ["M42", 83.8221, -5.3911],
      ["M57", 283.3963, 33.0292],
    ];
    for (const [name, ra, dec] of cases) {
      const e = findNamed(name)!;
      expect(separationDeg(ra, dec, e.ra_deg, e.dec_deg)).toBeLessThan(ARCMIN);
    }
  });

  test("every Messier object lies in its constellation (astronomy-engine IAU boundaries)", () => {
    for (let n = 1; n <= 110; n++) {
      const e = findNamed(`M${n}`)!;
      expect(`M${n} ${Constellation(e.ra_deg / 15, e.dec_deg).symbol}`).toBe(`M${n} ${MESSIER_CONSTELLATIONS[n - 1]}`);
    }
  });

  test("every star lies in the constellation of its Bayer/Flamsteed designation", () => {
    for (const e of catalogEntries().filter((x) => x.kind === "star")) {
      const designation = e.aliases?.find((a) => /^(\w+) [A-Z][A-Za-z]{2}$/.test(a));
      expect(designation).toBeDefined();
      const con = designation!.split(" ")[1];
      expect(`${e.name} ${Constellation(e.ra_deg / 15, e.dec_deg).symbol}`).toBe(`${e.name} ${con}`);
    }
  });
});

describe("findNamed", () => {
  test("Messier numbers in any reasonable spelling", () => {
    for (const q of ["M31", "m31", "M 31", "m 31", "M031", "M 031", "Messier 31", "messier31", " M31 ", "NGC 224", "ngc224", "NGC0224"])
      expect(findNamed(q)?.name).toBe("M31");
  });

  test("common names, case- and whitespace-insensitive", () => {
    expect(findNamed("Andromeda Galaxy")?.name).toBe("M31");
    expect(findNamed("andromeda   galaxy")?.name).toBe("M31");
    expect(findNamed("Orion Nebula")?.name).toBe("M42");
    expect(findNamed("Pleiades")?.name).toBe("M45");
    expect(findNamed("Ring Nebula")?.name).toBe("M57");
    expect(findNamed("Ptolemy's Cluster")?.name).toBe("M7");
    expect(findNamed("ptolemys cluster")?.name).toBe("M7");
    expect(findNamed("Praesepe")?.name).toBe("M44");
    expect(findNamed("VEGA")?.name).toBe("Vega");
    expect(findNamed("  vega ")?.name).toBe("Vega");
    expect(findNamed("Kaus Australis")?.name).toBe("Kaus Australis");
    expect(findNamed("kausaustralis")?.name).toBe("Kaus Australis");
  });

  test("Bayer designations and traditional alternates", () => {
    expect(findNamed("alf Lyr")?.name).toBe("Vega");
    expect(findNamed("Alpha Lyr")?.name).toBe("Vega");
    expect(findNamed("alpha umi")?.name).toBe("Polaris");
    expect(findNamed("gamma2 Vel")?.name).toBe("Regor");
    expect(findNamed("Agena")?.name).toBe("Hadar");
    expect(findNamed("Alpha Centauri")?.name).toBe("Rigil Kentaurus");
    expect(findNamed("El Nath")?.name).toBe("Elnath");
  });

  test("unknown names are null", () => {
    for (const q of ["", "M0", "M111", "Vulcan", "NGC 99999", "M31x"]) expect(findNamed(q)).toBeNull();
  });

  test("entries are frozen so one caller cannot corrupt another's lookup", () => {
    const e = findNamed("Vega")!;
    expect(Object.isFrozen(e)).toBe(true);
    expect(() => {
      (e as { ra_deg: number }).ra_deg = 0;
    }).toThrow();
  });
});

describe("brightStarsNear", () => {
  test("Orion's belt: the three belt stars, nearest first, and only stars", () => {
    const alnilam = findNamed("Alnilam")!;
    const near = brightStarsNear(alnilam.ra_deg, alnilam.dec_deg, 2);
    expect(near[0]!.name).toBe("Alnilam");
    expect(near.map((s) => s.name)).toEqual(expect.arrayContaining(["Alnitak", "Mintaka"]));
    expect(near.every((s) => s.kind === "star")).toBe(true);
    expect(near.map((s) => s.name)).not.toContain("M42");
    for (let i = 1; i < near.length; i++) {
      const d = (s: (typeof near)[number]) => separationDeg(alnilam.ra_deg, alnilam.dec_deg, s.ra_deg, s.dec_deg);
      expect(d(near[i]!)).toBeGreaterThanOrEqual(d(near[i - 1]!));
      expect(d(near[i]!)).toBeLessThanOrEqual(2);
    }
  });

  test("works across RA 0/360 and at the pole", () => {
    expect(brightStarsNear(359.5, 29, 3).map((s) => s.name)).toContain("Alpheratz"); // Alpheratz is at RA 2.1°
    expect(brightStarsNear(180, 90, 1).map((s) => s.name)).toContain("Polaris");
  });

  test("an empty patch of sky gives nothing", () => {
    expect(brightStarsNear(150, -5, 0.5)).toEqual([]);
  });
});
