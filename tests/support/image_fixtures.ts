/**
 * Image files built in code for tests and benchmarks (no binary fixtures in the repository).
 *
 * PNGs come from a 40-line encoder here (every colour type, palettes with transparency, 16-bit, an
 * eXIf chunk), so tests control every byte; JPEG and WebP come from sharp's encoders (libjpeg-turbo,
 * libwebp), deterministic for a pinned sharp. `photoLike` draws a deterministic picture with smooth
 * gradients, hard edges and fine texture, so resampling filters and JPEG artefacts have something to do.
 *
 * @module
 */
import sharp from "sharp";

/** 8-bit RGB pixels. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A deterministic photo-like RGB picture. */
export function photoLike(width: number, height: number, seed = 1): Pixels {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 0x100000000;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const u = x / width, v = y / height;
      const disc = (u - 0.6) ** 2 + (v - 0.4) ** 2 < 0.04; // a hard-edged disc
      const stripes = Math.floor(x / 7) % 2; // fine vertical stripes in the lower third
      const noise = rand() * 24 - 12;
      let r = 40 + 180 * u + 20 * Math.sin(v * 9), g = 60 + 150 * v, b = 200 - 120 * u * v;
      if (disc) (r = 230, g = 40, b = 50);
      if (v > 0.7) (r = stripes ? 220 : 30, g = r, b = r);
      data[i] = Math.max(0, Math.min(255, Math.round(r + noise)));
      data[i + 1] = Math.max(0, Math.min(255, Math.round(g + noise)));
      data[i + 2] = Math.max(0, Math.min(255, Math.round(b + noise)));
    }
  }
  return { width, height, data };
}

// ---- PNG --------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

/** PNG colour types. */
export type PngColor = "grey" | "rgb" | "palette" | "grey-alpha" | "rgba";
const COLOR_TYPE: Record<PngColor, number> = { grey: 0, rgb: 2, palette: 3, "grey-alpha": 4, rgba: 6 };
const CHANNELS: Record<PngColor, number> = { grey: 1, rgb: 3, palette: 1, "grey-alpha": 2, rgba: 4 };

/** Options of {@linkcode encodePng}. */
export interface PngOptions {
  color: PngColor;
  /** 8 (default) or 16 (samples then are big-endian pairs in `samples`). */
  bitDepth?: 8 | 16;
  /** Palette entries `[r, g, b]` (colour type palette). */
  palette?: [number, number, number][];
  /** Alpha per palette entry (tRNS). */
  transparency?: number[];
  /** EXIF orientation to store in an eXIf chunk. */
  orientation?: number;
}

/** A PNG of `width` × `height` with `samples` in the colour type's channel order (filter 0 on every row). */
export async function encodePng(
  width: number,
  height: number,
  samples: Uint8Array,
  options: PngOptions,
): Promise<Uint8Array> {
  const bitDepth = options.bitDepth ?? 8;
  const rowBytes = width * CHANNELS[options.color] * (bitDepth / 8);
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) raw.set(samples.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = COLOR_TYPE[options.color];
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk("IHDR", ihdr)];
  if (options.orientation) parts.push(chunk("eXIf", exifBlock(options.orientation)));
  if (options.palette) parts.push(chunk("PLTE", Uint8Array.from(options.palette.flat())));
  if (options.transparency) parts.push(chunk("tRNS", Uint8Array.from(options.transparency)));
  parts.push(chunk("IDAT", await zlib(raw)), chunk("IEND", new Uint8Array()));
  return concat(parts);
}

/** An RGB PNG of `pixels`. */
export function rgbPng(pixels: Pixels, orientation?: number): Promise<Uint8Array> {
  return encodePng(pixels.width, pixels.height, pixels.data, { color: "rgb", orientation });
}

// ---- EXIF, JPEG, WebP -------------------------------------------------------------------------

/** A big-endian TIFF block with one IFD entry: orientation. */
export function exifBlock(orientation: number): Uint8Array {
  const b = new Uint8Array(26);
  const v = new DataView(b.buffer);
  b.set([0x4d, 0x4d, 0, 42]);
  v.setUint32(4, 8); // IFD offset
  v.setUint16(8, 1); // one entry
  v.setUint16(10, 0x0112); // Orientation
  v.setUint16(12, 3); // SHORT
  v.setUint32(14, 1); // count
  v.setUint16(18, orientation);
  v.setUint32(22, 0); // no next IFD
  return b;
}

/** `jpeg` with an APP1 Exif segment holding `orientation` inserted after SOI. */
export function withJpegOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const tiff = exifBlock(orientation);
  const app1 = new Uint8Array(4 + 6 + tiff.length);
  app1.set([0xff, 0xe1, (app1.length - 2) >> 8, (app1.length - 2) & 0xff]);
  app1.set(new TextEncoder().encode("Exif\0\0"), 4);
  app1.set(tiff, 10);
  return concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

/** A baseline JPEG of `pixels` (sharp / libjpeg-turbo, 4:2:0 unless `chroma444`). */
export async function encodeJpeg(pixels: Pixels, quality = 90, chroma444 = false): Promise<Uint8Array> {
  const buffer = await sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: chroma444 ? "4:4:4" : "4:2:0" })
    .toBuffer();
  return new Uint8Array(buffer);
}

/** A WebP of `pixels`, lossless by default (exact pixels back), with EXIF orientation when given. */
export async function encodeWebp(pixels: Pixels, lossless = true, orientation?: number): Promise<Uint8Array> {
  let image = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
    .webp({ lossless, quality: 90 });
  if (orientation) image = image.withMetadata({ orientation });
  return new Uint8Array(await image.toBuffer());
}
