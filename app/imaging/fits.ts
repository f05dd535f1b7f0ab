/** FITS files for 16-bit unsigned images (FITS Standard 3.0): a primary header of 80-character cards and the
 * pixels as big-endian signed 16-bit with BZERO = 32768, i.e. value XOR 0x8000. */

export type FitsValue = string | number | boolean;
export type FitsCard = [key: string, value: FitsValue, comment?: string];

export type FitsImage = { width: number; height: number; pixels: Uint16Array };

export type DecodedFits = FitsImage & { bitpix: number; cards: Map<string, FitsValue> };

const BLOCK = 2880;
const CARD = 80;
/** Written by encodeFits itself from the image; callers' cards with these keys are dropped, not obeyed. */
const STRUCTURAL = new Set(["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BZERO", "BSCALE", "EXTEND", "END"]);
/** Commentary keywords: no "= ", free text in columns 9–80, and may repeat. */
const COMMENTARY = new Set(["COMMENT", "HISTORY"]);
const KEY_PATTERN = /^[A-Z0-9_-]{1,8}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

function assertPrintable(text: string, what: string): void {
  if (!PRINTABLE.test(text)) throw new Error(`FITS ${what} must be printable ASCII: ${JSON.stringify(text)}`);
}

/** A real number for the 20-column fixed-format field: the shortest text that reads back as the same double when
 * that fits (plain or exponent form), else the most significant digits that fit (at least 13). Always with a '.'
 * so readers take it as real, not integer. */
function formatReal(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`FITS cannot store the non-finite value ${value}`);
  const tidy = (text: string): string => {
    const [mantissa = "", exponent] = text.toUpperCase().split("E");
    let m = mantissa.includes(".") ? mantissa.replace(/0+$/, "") : `${mantissa}.`;
    if (m.endsWith(".")) m += "0";
    return exponent === undefined ? m : `${m}E${exponent}`;
  };
  const shortest = (texts: string[]): string | undefined =>
    texts.map(tidy).filter((t) => t.length <= 20).sort((a, b) => a.length - b.length)[0];
  const exact = shortest([String(value), value.toExponential()]);
  if (exact) return exact;
  for (let digits = 16; digits > 0; digits--) {
    const text = shortest([value.toPrecision(digits), value.toExponential(digits - 1)]);
    if (text) return text;
  }
  throw new Error(`FITS cannot format ${value}`);
}

function formatValue(key: string, value: FitsValue): string {
  if (typeof value === "boolean") return (value ? "T" : "F").padStart(20);
  if (typeof value === "number") {
    return (Number.isSafeInteger(value) ? String(value) : formatReal(value)).padStart(20);
  }
  assertPrintable(value, `value of ${key}`);
  // Leading spaces are significant in FITS strings, trailing ones are not; 8 characters is the minimum field.
  const quoted = `'${value.replaceAll("'", "''").padEnd(8)}'`;
  if (quoted.length > CARD - 10) throw new Error(`FITS string value of ${key} is too long for one card (${value.length})`);
  return quoted;
}

/** One 80-character card. Comments that do not fit are cut short, since they carry no data. */
function formatCard([key, value, comment]: FitsCard): string {
  if (!KEY_PATTERN.test(key)) throw new Error(`FITS keyword must be 1–8 of A–Z 0–9 _ -: ${JSON.stringify(key)}`);
  if (COMMENTARY.has(key)) {
    const text = String(value);
    assertPrintable(text, `${key} text`);
    if (text.length > CARD - 8) throw new Error(`FITS ${key} text longer than ${CARD - 8} characters`);
    return key.padEnd(8) + text;
  }
  let card = `${key.padEnd(8)}= ${formatValue(key, value)}`;
  if (comment !== undefined && comment !== "") {
    assertPrintable(comment, `comment of ${key}`);
    const room = CARD - card.length - 3;
    if (room > 0) card += ` / ${comment.slice(0, room)}`;
  }
  return card;
}

function headerCards(image: FitsImage, cards: readonly FitsCard[]): string[] {
  const lines = [
    formatCard(["SIMPLE", true, "conforms to FITS standard"]),
    formatCard(["BITPIX", 16, "16-bit pixels"]),
    formatCard(["NAXIS", 2]),
    formatCard(["NAXIS1", image.width, "width, fastest axis"]),
    formatCard(["NAXIS2", image.height]),
    formatCard(["BZERO", 32768, "unsigned 16-bit data"]),
    formatCard(["BSCALE", 1]),
  ];
  const seen = new Set<string>();
  for (const card of cards) {
    const key = card[0];
    if (STRUCTURAL.has(key)) continue;
    if (!COMMENTARY.has(key)) {
      // A repeated keyword leaves readers to guess which value counts.
      if (seen.has(key)) throw new Error(`FITS keyword ${key} given twice`);
      seen.add(key);
    }
    lines.push(formatCard(card));
  }
  lines.push("END");
  return lines;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The whole file in one allocation: header blocks (space-padded), then data blocks (zero-padded). */
export function encodeFits(image: FitsImage, cards: readonly FitsCard[]): Uint8Array {
  const { width, height, pixels } = image;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`FITS image size must be positive integers, got ${width}×${height}`);
  }
  if (pixels.length !== width * height) throw new Error(`FITS image has ${pixels.length} pixels, expected ${width * height}`);

  const lines = headerCards(image, cards);
  const headerBytes = padded(lines.length * CARD);
  const out = new Uint8Array(headerBytes + padded(pixels.length * 2));
  out.fill(0x20, 0, headerBytes);
  lines.forEach((line, n) => {
    const base = n * CARD;
    for (let i = 0; i < line.length; i++) out[base + i] = line.charCodeAt(i);
  });

  const n = pixels.length;
  if (littleEndian) {
    // The header is whole blocks, so the data start is 2-byte aligned: write swapped 16-bit words directly.
    const words = new Uint16Array(out.buffer, headerBytes, n);
    for (let i = 0; i < n; i++) {
      const v = pixels[i]! ^ 0x8000;
      words[i] = (v >>> 8) | ((v & 0xff) << 8);
    }
  } else {
    const words = new Uint16Array(out.buffer, headerBytes, n);
    for (let i = 0; i < n; i++) words[i] = pixels[i]! ^ 0x8000;
  }
  return out;
}

/** A card's value: quoted string (with '' unescaped, trailing spaces dropped), T/F, or a number (D exponents too).
 * Anything else is kept as its raw text. */
function parseValue(field: string): FitsValue {
  const text = field.trimStart();
  if (text.startsWith("'")) {
    let value = "";
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === "'") {
        if (text[i + 1] !== "'") break;
        i++;
      }
      value += c;
    }
    return value.trimEnd();
  }
  const slash = text.indexOf("/");
  const raw = (slash >= 0 ? text.slice(0, slash) : text).trim();
  if (raw === "T") return true;
  if (raw === "F") return false;
  const number = Number(raw.replace(/[dD]/, "E"));
  return raw !== "" && Number.isFinite(number) ? number : raw;
}

function requireCard(cards: Map<string, FitsValue>, key: string, expected?: FitsValue): FitsValue {
  const value = cards.get(key);
  if (value === undefined) throw new Error(`FITS header lacks ${key}`);
  if (expected !== undefined && value !== expected) {
    throw new Error(`FITS ${key} = ${String(value)} is not supported (only ${String(expected)})`);
  }
  return value;
}

/** Reads what encodeFits writes: a primary 2-D image of unsigned 16-bit pixels (BITPIX 16, BZERO 32768, BSCALE 1).
 * Anything else is refused with an Error naming the unsupported card. COMMENT and HISTORY cards are skipped. */
export function decodeFits(bytes: Uint8Array): DecodedFits {
  const cards = new Map<string, FitsValue>();
  let offset = 0;
  let ended = false;
  while (!ended) {
    if (offset + CARD > bytes.length) throw new Error("FITS header has no END card");
    let line = "";
    for (let i = 0; i < CARD; i++) line += String.fromCharCode(bytes[offset + i]!);
    offset += CARD;
    const key = line.slice(0, 8).trimEnd();
    if (key === "END") ended = true;
    else if (key !== "" && !COMMENTARY.has(key) && line.slice(8, 10) === "= ") cards.set(key, parseValue(line.slice(10)));
  }
  const dataStart = padded(offset);

  requireCard(cards, "SIMPLE", true);
  const bitpix = requireCard(cards, "BITPIX", 16) as number;
  requireCard(cards, "NAXIS", 2);
  const width = requireCard(cards, "NAXIS1");
  const height = requireCard(cards, "NAXIS2");
  if (typeof width !== "number" || typeof height !== "number" || !Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`FITS image size ${String(width)}×${String(height)} is not supported`);
  }
  requireCard(cards, "BZERO", 32768);
  if (cards.has("BSCALE")) requireCard(cards, "BSCALE", 1);

  const n = width * height;
  if (dataStart + n * 2 > bytes.length) throw new Error(`FITS data is truncated: ${bytes.length - dataStart} bytes for ${n} pixels`);
  const pixels = new Uint16Array(n);
  for (let i = 0, o = dataStart; i < n; i++, o += 2) pixels[i] = ((bytes[o]! << 8) | bytes[o + 1]!) ^ 0x8000;
  return { width, height, bitpix, cards, pixels };
}
