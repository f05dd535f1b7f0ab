import { describe, expect, test } from "bun:test";
import { decodeFits, encodeFits, type FitsCard } from "../../app/imaging/fits";

const BLOCK = 2880;

function headerLines(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let offset = 0; ; offset += 80) {
    const line = new TextDecoder().decode(bytes.subarray(offset, offset + 80));
    lines.push(line);
    if (line.startsWith("END ")) return lines;
  }
}

const card = (bytes: Uint8Array, key: string): string => {
  const line = headerLines(bytes).find((l) => l.slice(0, 8).trimEnd() === key);
  if (!line) throw new Error(`no ${key} card`);
  return line;
};

const tiny = (cards: FitsCard[]) => encodeFits({ width: 1, height: 1, pixels: new Uint16Array(1) }, cards);

describe("encodeFits / decodeFits", () => {
  const width = 37;
  const height = 23;
  const pixels = Uint16Array.from({ length: width * height }, (_, i) => (i * 2654435761) >>> 16);
  pixels[0] = 0;
  pixels[1] = 65535;
  pixels[2] = 32768;
  const cards: FitsCard[] = [
    ["DATE-OBS", "2025-03-01T21:04:05.123", "UTC start of exposure"],
    ["EXPTIME", 2.5, "[s]"],
    ["XBINNING", 2],
    ["CCD-TEMP", -10.25],
    ["OBJECT", "M 42"],
    ["SIMULATE", true],
    ["DITHERED", false],
    ["OBSERVER", "O'Brien ''quoted''"],
    ["CD1_1", -3.9939425538828e-4],
    ["TINY", 1.5e-300],
    ["HUGE", -2.5e21],
    ["HISTORY", "written by the test"],
  ];
  const bytes = encodeFits({ width, height, pixels }, cards);

  test("round-trips pixels and cards", () => {
    const decoded = decodeFits(bytes);
    expect(decoded.width).toBe(width);
    expect(decoded.height).toBe(height);
    expect(decoded.bitpix).toBe(16);
    expect(decoded.pixels).toEqual(pixels);
    for (const [key, value] of cards) if (key !== "HISTORY") expect(decoded.cards.get(key)).toBe(value);
    expect(decoded.cards.get("BZERO")).toBe(32768);
  });

  test("writes whole 2880-byte blocks: a printable ASCII header ending in END, then zero-padded data", () => {
    const lines = headerLines(bytes);
    const headerBytes = Math.ceil((lines.length * 80) / BLOCK) * BLOCK;
    expect(bytes.length).toBe(headerBytes + Math.ceil((width * height * 2) / BLOCK) * BLOCK);
    expect(bytes.length % BLOCK).toBe(0);
    expect(bytes.subarray(0, headerBytes).every((b) => b >= 0x20 && b <= 0x7e)).toBe(true);
    expect(lines.at(-1)!.trimEnd()).toBe("END");
    expect(lines.slice(0, 7).map((l) => l.slice(0, 8).trimEnd())).toEqual(["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BZERO", "BSCALE"]);
    expect(bytes.subarray(headerBytes + width * height * 2).every((b) => b === 0)).toBe(true);
  });

  test("stores pixels big-endian with the sign bit flipped (BZERO 32768)", () => {
    const data = bytes.length - Math.ceil((width * height * 2) / BLOCK) * BLOCK;
    expect([bytes[data], bytes[data + 1]]).toEqual([0x80, 0x00]); // 0
    expect([bytes[data + 2], bytes[data + 3]]).toEqual([0x7f, 0xff]); // 65535
    expect([bytes[data + 4], bytes[data + 5]]).toEqual([0x00, 0x00]); // 32768
    const v = pixels[3]! ^ 0x8000;
    expect([bytes[data + 6], bytes[data + 7]]).toEqual([v >> 8, v & 0xff]);
  });

  test("uses fixed format: values right-justified to column 30, strings quoted from column 11", () => {
    expect(card(bytes, "SIMPLE").slice(0, 30)).toBe(`SIMPLE  = ${"T".padStart(20)}`);
    expect(card(bytes, "DITHERED").slice(0, 30)).toBe(`DITHERED= ${"F".padStart(20)}`);
    expect(card(bytes, "XBINNING").slice(0, 31)).toBe(`XBINNING= ${"2".padStart(20)} `);
    expect(card(bytes, "EXPTIME")).toBe(`EXPTIME = ${"2.5".padStart(20)} / [s]`.padEnd(80));
    expect(card(bytes, "HUGE").slice(10, 30)).toBe("-2.5E+21".padStart(20));
    // Strings: at least 8 characters between the quotes; a quote inside is doubled.
    expect(card(bytes, "OBJECT")).toBe("OBJECT  = 'M 42    '".padEnd(80));
    expect(card(bytes, "OBSERVER").slice(10)).toStartWith("'O''Brien ''''quoted'''''");
    expect(card(bytes, "HISTORY")).toBe("HISTORY written by the test".padEnd(80));
  });

  test("decodes the ends of a string and D exponents the way other writers emit them", () => {
    const b = tiny([
      ["EMPTY", ""],
      ["LEAD", "  x"],
      ["SLASH", "a / b", "comment"],
    ]);
    const cards = decodeFits(b).cards;
    expect(cards.get("EMPTY")).toBe("");
    expect(cards.get("LEAD")).toBe("  x");
    expect(cards.get("SLASH")).toBe("a / b");
    // A header line in Fortran style, patched in place of EMPTY.
    const line = "DVAL    =              1.5D+02 / Fortran exponent".padEnd(80);
    const at = headerLines(b).findIndex((l) => l.startsWith("EMPTY"));
    for (let i = 0; i < 80; i++) b[at * 80 + i] = line.charCodeAt(i);
    expect(decodeFits(b).cards.get("DVAL")).toBe(150);
  });

  test("ignores cards that would override the structure it writes", () => {
    const b = encodeFits({ width: 2, height: 1, pixels: new Uint16Array([5, 6]) }, [
      ["BITPIX", -32],
      ["NAXIS1", 99],
      ["BZERO", 0],
      ["SIMPLE", false],
      ["END", "x"],
      ["OK", 1],
    ]);
    const lines = headerLines(b);
    expect(lines.filter((l) => l.startsWith("BITPIX")).length).toBe(1);
    const decoded = decodeFits(b);
    expect(decoded.cards.get("BITPIX")).toBe(16);
    expect(decoded.cards.get("NAXIS1")).toBe(2);
    expect(decoded.cards.get("BZERO")).toBe(32768);
    expect(decoded.cards.get("OK")).toBe(1);
    expect(decoded.pixels).toEqual(new Uint16Array([5, 6]));
  });

  test("real numbers round-trip exactly when they fit and to ≥13 digits when they do not", () => {
    for (const v of [0.1, -0.5, 1 / 3, 2 ** 53 + 2, 1e-7, -1.25e-300, 5e-324, 123456789.123, 1e21, -3.9939425538828e-4]) {
      expect(decodeFits(tiny([["V", v]])).cards.get("V")).toBe(v);
    }
    for (const v of [-1.2345678901234567e-100, 1.7976931348623157e308, Math.PI * 1e-200]) {
      const back = decodeFits(tiny([["V", v]])).cards.get("V") as number;
      expect(Math.abs(back - v) / Math.abs(v)).toBeLessThan(1e-12);
    }
    const real = card(tiny([["V", 1e-7]]), "V").slice(10, 30).trim();
    expect(real).toMatch(/\./);
  });

  test("truncates over-long comments to the card and rejects what FITS cannot hold", () => {
    const line = card(tiny([["K", 1, "c".repeat(200)]]), "K");
    expect(line.length).toBe(80);
    expect(line).toStartWith(`K       = ${"1".padStart(20)} / ccc`);
    expect(() => tiny([["lower", 1]])).toThrow(/keyword/);
    expect(() => tiny([["TOOLONGKEY", 1]])).toThrow(/keyword/);
    expect(() => tiny([["BAD KEY", 1]])).toThrow(/keyword/);
    expect(() => tiny([["OBJECT", "Ångström"]])).toThrow(/ASCII/);
    expect(() => tiny([["OBJECT", "x", "naïve"]])).toThrow(/ASCII/);
    expect(() => tiny([["OBJECT", "tab\there"]])).toThrow(/ASCII/);
    expect(() => tiny([["OBJECT", "x".repeat(69)]])).toThrow(/too long/);
    expect(() => tiny([["V", Number.NaN]])).toThrow(/non-finite/);
    expect(() => tiny([["V", Infinity]])).toThrow(/non-finite/);
    expect(() => tiny([["DUP", 1], ["DUP", 2]])).toThrow(/twice/);
    expect(() => encodeFits({ width: 2, height: 2, pixels: new Uint16Array(3) }, [])).toThrow(/pixels/);
    expect(tiny([["OBJECT", "x".repeat(68)]]).length).toBe(2 * BLOCK);
  });

  test("decodeFits refuses other formats with a clear error", () => {
    const base = encodeFits({ width: 4, height: 4, pixels: new Uint16Array(16) }, []);
    const patched = (key: string, value: string) => {
      const b = base.slice();
      const at = headerLines(b).findIndex((l) => l.slice(0, 8).trimEnd() === key);
      const line = `${key.padEnd(8)}= ${value.padStart(20)}`.padEnd(80);
      for (let i = 0; i < 80; i++) b[at * 80 + i] = line.charCodeAt(i);
      return b;
    };
    expect(() => decodeFits(patched("BITPIX", "-32"))).toThrow(/BITPIX/);
    expect(() => decodeFits(patched("BITPIX", "8"))).toThrow(/BITPIX/);
    expect(() => decodeFits(patched("NAXIS", "3"))).toThrow(/NAXIS/);
    expect(() => decodeFits(patched("BZERO", "0"))).toThrow(/BZERO/);
    expect(() => decodeFits(base.slice(0, BLOCK + 10))).toThrow(/truncated/);
    expect(() => decodeFits(new Uint8Array(BLOCK).fill(0x20))).toThrow(/END/);
  });
});
