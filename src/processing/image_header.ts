/**
 * What an image file is, read from its first bytes before any decoder sees it: the format (PNG, JPEG
 * or WebP, by magic number, never by file name), the dimensions its header declares, and the EXIF
 * orientation tag when there is one.
 *
 * Reading the header first is the decompression-bomb guard: a 60-byte PNG can declare 100,000 ×
 * 100,000 pixels, and the declared size is checked against a pixel limit before any pixel buffer is
 * allocated. Every malformed header is an {@linkcode InputError} naming the file.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** The image formats gpux decodes. */
export type ImageFormat = "png" | "jpeg" | "webp";

/** The facts a header gives. */
export interface ImageHeader {
  /** File format, from the magic number. */
  format: ImageFormat;
  /** Width in pixels as stored (before EXIF orientation). */
  width: number;
  /** Height in pixels as stored (before EXIF orientation). */
  height: number;
  /** EXIF orientation 1–8 (1 = as stored) from the file's EXIF block; 1 when there is none. */
  orientation: number;
  /** JPEG only: colour components in the frame (1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK). */
  components?: number;
}

/**
 * Largest image accepted, in pixels: PIL's `MAX_IMAGE_PIXELS` (89,478,485, about 9,459 × 9,459), above
 * which PIL warns of a decompression bomb. 8-bit RGBA of that size is 358 MB.
 */
export const DEFAULT_MAX_PIXELS = 89_478_485;

const u16be = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32be = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const u16le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u24le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const ascii = (b: Uint8Array, o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));

/** The format of `bytes` by magic number, or `undefined` when it is none gpux decodes. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && u32be(bytes, 0) === 0x89504e47 && u32be(bytes, 4) === 0x0d0a1a0a) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") return "webp";
  return undefined;
}

/**
 * The orientation tag (0x0112) of a TIFF-structured EXIF block (starting at the `II`/`MM` byte order
 * mark), or 1 when it is absent or unreadable: a broken EXIF block never makes an image unreadable.
 */
export function exifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) return 1;
  const le = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const r16 = (o: number) => (le ? u16le(tiff, o) : u16be(tiff, o));
  const r32 = (o: number) => (le ? u32le(tiff, o) : u32be(tiff, o));
  const ifd = r32(4);
  if (ifd + 2 > tiff.length) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (r16(entry) === 0x0112) {
      const value = r16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function corrupt(name: string, format: string, what: string): InputError {
  return new InputError(`${name}: not a readable ${format} image (${what})`, {
    hint: "The file is truncated or corrupt; re-export it as PNG, JPEG or WebP.",
  });
}

function pngHeader(b: Uint8Array, name: string): ImageHeader {
  if (b.length < 33 || ascii(b, 12, 4) !== "IHDR") throw corrupt(name, "PNG", "no IHDR chunk");
  const header: ImageHeader = { format: "png", width: u32be(b, 16), height: u32be(b, 20), orientation: 1 };
  // Walk the chunks by their lengths (without reading image data): eXIf for the orientation, and IEND,
  // whose absence means the file was cut short.
  let o = 8;
  let ended = false;
  while (o + 12 <= b.length) {
    const length = u32be(b, o);
    const type = ascii(b, o + 4, 4);
    if (type === "IEND") {
      ended = true;
      break;
    }
    if (type === "eXIf" && o + 8 + length <= b.length) {
      header.orientation = exifOrientation(b.subarray(o + 8, o + 8 + length));
    }
    o += 12 + length;
  }
  if (!ended) throw corrupt(name, "PNG", "truncated: no IEND chunk");
  return header;
}

function hasMarkerAfter(b: Uint8Array, marker: number, from: number): boolean {
  for (let i = b.length - 2; i >= from; i--) if (b[i] === 0xff && b[i + 1] === marker) return true;
  return false;
}

function jpegHeader(b: Uint8Array, name: string): ImageHeader {
  let o = 2;
  let orientation = 1;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) throw corrupt(name, "JPEG", `bad marker at byte ${o}`);
    const marker = b[o + 1];
    if (marker === 0xff) { // fill byte
      o++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    const length = u16be(b, o + 2);
    if (length < 2) throw corrupt(name, "JPEG", `bad segment length at byte ${o}`);
    const body = o + 4;
    if (marker === 0xe1 && body + 6 <= b.length && ascii(b, body, 6) === "Exif\0\0") {
      orientation = exifOrientation(b.subarray(body + 6, Math.min(b.length, o + 2 + length)));
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body + 5 > b.length) break;
      // Entropy-coded data never holds FF D9 (an FF there is followed by 00), so a file without an
      // end-of-image marker after its frame header was cut short — PIL refuses those too.
      if (!hasMarkerAfter(b, 0xd9, body)) throw corrupt(name, "JPEG", "truncated: no end-of-image marker");
      return {
        format: "jpeg",
        height: u16be(b, body + 1),
        width: u16be(b, body + 3),
        orientation,
        components: body + 5 < b.length ? b[body + 5] : undefined,
      };
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
    o += 2 + length;
  }
  throw corrupt(name, "JPEG", "no frame header");
}

function webpHeader(b: Uint8Array, name: string): ImageHeader {
  if (u32le(b, 4) + 8 > b.length) {
    throw corrupt(name, "WebP", `truncated: ${u32le(b, 4) + 8} bytes declared, ${b.length} present`);
  }
  let o = 12;
  let header: ImageHeader | undefined;
  let orientation = 1;
  while (o + 8 <= b.length) {
    const type = ascii(b, o, 4);
    const size = u32le(b, o + 4);
    const d = o + 8;
    if (type === "VP8X" && d + 10 <= b.length) {
      header = { format: "webp", width: u24le(b, d + 4) + 1, height: u24le(b, d + 7) + 1, orientation: 1 };
    } else if (type === "VP8 " && !header && d + 10 <= b.length) {
      if (b[d + 3] !== 0x9d || b[d + 4] !== 0x01 || b[d + 5] !== 0x2a) throw corrupt(name, "WebP", "bad VP8 frame");
      header = { format: "webp", width: u16le(b, d + 6) & 0x3fff, height: u16le(b, d + 8) & 0x3fff, orientation: 1 };
    } else if (type === "VP8L" && !header && d + 5 <= b.length) {
      if (b[d] !== 0x2f) throw corrupt(name, "WebP", "bad VP8L signature");
      const bits = u32le(b, d + 1);
      header = { format: "webp", width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, orientation: 1 };
    } else if (type === "EXIF" && d + size <= b.length) {
      const exif = b.subarray(d, d + size);
      orientation = exifOrientation(ascii(exif, 0, 6) === "Exif\0\0" ? exif.subarray(6) : exif);
    }
    o = d + size + (size & 1);
  }
  if (!header) throw corrupt(name, "WebP", "no VP8/VP8L/VP8X chunk");
  return { ...header, orientation };
}

/**
 * Reads the header of an image file and checks its size against `maxPixels`.
 *
 * @param name how to call the file in messages (its path, or `stdin`).
 * @throws {InputError} unknown format, corrupt header, zero or too many pixels.
 * @example
 * ```ts
 * const h = readImageHeader(await Deno.readFile("cat.jpg"), "cat.jpg");
 * console.log(h.format, h.width, h.height, h.orientation);
 * ```
 */
export function readImageHeader(bytes: Uint8Array, name: string, maxPixels = DEFAULT_MAX_PIXELS): ImageHeader {
  const format = sniffImageFormat(bytes);
  if (!format) {
    throw new InputError(`${name}: not a PNG, JPEG or WebP image`, {
      hint: bytes.length === 0 ? "The file is empty." : "Convert it to PNG, JPEG or WebP first.",
    });
  }
  const header = format === "png" ? pngHeader(bytes, name) : format === "jpeg" ? jpegHeader(bytes, name) : webpHeader(
    bytes,
    name,
  );
  if (header.width === 0 || header.height === 0) throw corrupt(name, header.format, "zero width or height");
  if (header.width * header.height > maxPixels) {
    throw new InputError(
      `${name}: ${header.width}×${header.height} pixels is more than the limit of ${maxPixels.toLocaleString("en")}`,
      { hint: "A decompression bomb, or a huge image: downscale it first." },
    );
  }
  return header;
}
