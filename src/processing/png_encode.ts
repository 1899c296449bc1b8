/**
 * Pixels to PNG files, for the image answers of vision tasks (masks, depth maps, boxes drawn on the input,
 * cut-outs): @jsquash/png's encoder, the same WebAssembly module that decodes PNGs (image_decode.ts).
 *
 * @module
 */
import type { RgbImage } from "./image_decode.ts";

type Encode = (data: { data: Uint8Array; width: number; height: number }) => Promise<ArrayBuffer>;
let encoder: Promise<Encode> | undefined;

function loadEncoder(): Promise<Encode> {
  encoder ??= (async () => {
    const m = await import("@jsquash/png/encode.js");
    const wasm = await Deno.readFile(new URL(import.meta.resolve("@jsquash/png/codec/pkg/squoosh_png_bg.wasm")));
    await m.init(await WebAssembly.compile(wasm));
    return m.default as unknown as Encode;
  })();
  encoder.catch(() => (encoder = undefined));
  return encoder;
}

/** An 8-bit RGBA PNG of `rgba` (`width * height * 4` bytes, row-major). */
export async function encodeRgbaPng(width: number, height: number, rgba: Uint8Array): Promise<Uint8Array> {
  const encode = await loadEncoder();
  return new Uint8Array(await encode({ data: new Uint8Array(rgba), width, height }));
}

/** A PNG of one grey channel (`width * height` bytes): masks and depth maps. */
export function encodeGreyPng(width: number, height: number, grey: Uint8Array): Promise<Uint8Array> {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < grey.length; i++, j += 4) {
    rgba[j] = rgba[j + 1] = rgba[j + 2] = grey[i];
    rgba[j + 3] = 255;
  }
  return encodeRgbaPng(width, height, rgba);
}

/** A PNG of RGB pixels, with `alpha` (`width * height` bytes) as the alpha channel when given. */
export function encodeRgbPng(image: RgbImage, alpha?: Uint8Array): Promise<Uint8Array> {
  const n = image.width * image.height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[i * 4] = image.data[i * 3];
    rgba[i * 4 + 1] = image.data[i * 3 + 1];
    rgba[i * 4 + 2] = image.data[i * 3 + 2];
    rgba[i * 4 + 3] = alpha ? alpha[i] : 255;
  }
  return encodeRgbaPng(image.width, image.height, rgba);
}
