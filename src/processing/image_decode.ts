/**
 * Image files (PNG, JPEG, WebP) to 8-bit RGB pixels, EXIF orientation applied — what
 * `PIL.ImageOps.exif_transpose(Image.open(f)).convert("RGB")` gives Python's `pipeline()`.
 *
 * Two decoders, chosen by measurement (docs/performance.md, `deno task bench:processing`):
 * - `native`: sharp (libvips + libjpeg-turbo, a prebuilt addon from npm). Fastest; loaded on first use,
 *   so a process that never sees an image never pays for it.
 * - `wasm`: @jsquash/jpeg (mozjpeg), @jsquash/png and @jsquash/webp (libwebp) compiled to WebAssembly.
 *   Slower, but has no native library, so it works everywhere, a `deno compile`d binary included
 *   (where sharp's libvips is not extracted beside the addon and fails to load).
 * `auto` (the default) uses native when it loads and wasm otherwise. Both decode a JPEG to the same
 * pixels (both are libjpeg-turbo derivatives with the same default IDCT; checked in the tests). Embedded
 * ICC profiles are ignored, as Pillow ignores them (sharp would otherwise convert a Display P3 photo to
 * sRGB, up to 52 levels away from what the model was trained on).
 *
 * The header is read first ({@linkcode readImageHeader}): the format comes from the magic number, and
 * the declared size is checked against a pixel limit before any decoder allocates (decompression bombs).
 * Every failure is an {@linkcode InputError} naming the file.
 *
 * @module
 */
import { InputError, ProviderError } from "../errors.ts";
import { DEFAULT_MAX_PIXELS, type ImageFormat, readImageHeader } from "./image_header.ts";

/** 8-bit RGB pixels, row-major, interleaved (`data[(y * width + x) * 3 + c]`). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/** Which decoder to use: `auto` (native when it loads, else wasm), `native` (sharp) or `wasm` (@jsquash). */
export type ImageDecoderName = "auto" | "native" | "wasm";

/** Options of {@linkcode decodeImage}. */
export interface DecodeImageOptions {
  /** Decoder (default `auto`). */
  decoder?: ImageDecoderName;
  /** Largest accepted width × height (default {@linkcode DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
}

/** A decoded image and how it was decoded. */
export interface DecodedImage extends RgbImage {
  /** The file format. */
  format: ImageFormat;
  /** The decoder that ran. */
  decoder: "native" | "wasm";
  /** The EXIF orientation that was applied (1 = none). */
  orientation: number;
}

// ---- native: sharp ----------------------------------------------------------------------------

// deno-lint-ignore no-explicit-any
type Sharp = any;
let nativeLoad: Promise<Sharp | Error> | undefined;

function loadNative(): Promise<Sharp | Error> {
  nativeLoad ??= import("sharp").then((m) => m.default ?? m).catch((e) =>
    e instanceof Error ? e : new Error(String(e))
  );
  return nativeLoad;
}

async function decodeNative(sharp: Sharp, bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: "error", ignoreIcc: true })
    .toColourspace("srgb")
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`sharp gave ${info.channels} channels`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

// ---- wasm: @jsquash ---------------------------------------------------------------------------

interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}
type WasmDecode = (buffer: ArrayBuffer) => Promise<ImageDataLike>;
const wasmDecoders = new Map<ImageFormat, Promise<WasmDecode>>();

/** The module's .wasm read as a file: works under `deno run` and inside a compiled binary alike. */
async function compileWasm(specifier: string): Promise<WebAssembly.Module> {
  return await WebAssembly.compile(await Deno.readFile(new URL(import.meta.resolve(specifier))));
}

/** The emscripten codecs' `init(module, moduleOptions)` (their .d.ts declares only the first parameter). */
type InitWithOptions = (module: WebAssembly.Module, options: object) => Promise<unknown>;

/** What the emscripten codecs last wrote to stderr (libjpeg's messages): kept for the error, never printed. */
let lastCodecMessage = "";
const QUIET = {
  print: () => {},
  printErr: (line: string) => {
    lastCodecMessage = line;
  },
};

function loadWasm(format: ImageFormat): Promise<WasmDecode> {
  let loading = wasmDecoders.get(format);
  if (!loading) {
    loading = (async (): Promise<WasmDecode> => {
      if (format === "jpeg") {
        const m = await import("@jsquash/jpeg/decode.js");
        await (m.init as InitWithOptions)(await compileWasm("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"), QUIET);
        return (b) => m.default(b) as Promise<ImageDataLike>;
      }
      if (format === "png") {
        const m = await import("@jsquash/png/decode.js");
        await m.init(await compileWasm("@jsquash/png/codec/pkg/squoosh_png_bg.wasm"));
        return (b) => m.default(b) as Promise<ImageDataLike>;
      }
      const m = await import("@jsquash/webp/decode.js");
      await (m.init as InitWithOptions)(await compileWasm("@jsquash/webp/codec/dec/webp_dec.wasm"), QUIET);
      return (b) => m.default(b) as Promise<ImageDataLike>;
    })();
    loading.catch(() => wasmDecoders.delete(format));
    wasmDecoders.set(format, loading);
  }
  return loading;
}

async function decodeWasm(format: ImageFormat, bytes: Uint8Array): Promise<RgbImage> {
  const decode = await loadWasm(format);
  const copy = bytes.slice().buffer; // the decoders take an ArrayBuffer of exactly the file
  lastCodecMessage = "";
  let image: ImageDataLike;
  try {
    image = await decode(copy);
  } catch (error) {
    throw error instanceof Error ? error : new Error(lastCodecMessage || "the decoder rejected the data");
  }
  const { width, height } = image;
  const rgba = image.data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { width, height, data: rgb };
}

// ---- orientation ------------------------------------------------------------------------------

/**
 * Applies EXIF orientation `orientation` (1–8) as PIL's `exif_transpose` does: 2 mirror, 3 rotate 180°,
 * 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
 */
export function applyOrientation(image: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = w - 1 - ox, sy = oy;
          break;
        case 3:
          sx = w - 1 - ox, sy = h - 1 - oy;
          break;
        case 4:
          sx = ox, sy = h - 1 - oy;
          break;
        case 5:
          sx = oy, sy = ox;
          break;
        case 6:
          sx = oy, sy = h - 1 - ox;
          break;
        case 7:
          sx = w - 1 - oy, sy = h - 1 - ox;
          break;
        default: // 8
          sx = w - 1 - oy, sy = ox;
      }
      const s = (sy * w + sx) * 3;
      const d = (oy * ow + ox) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: ow, height: oh, data: out };
}

// ---- the entry point --------------------------------------------------------------------------

/**
 * Decodes an image file's bytes to RGB, EXIF orientation applied.
 *
 * @param name the file's name for messages (its path, or `stdin`).
 * @throws {InputError} not PNG/JPEG/WebP, corrupt or truncated, more pixels than `maxPixels` (exit 2).
 * @throws {ProviderError} `decoder: "native"` was asked for and sharp cannot load here (exit 7).
 * @example
 * ```ts
 * const image = await decodeImage(await Deno.readFile("cat.jpg"), "cat.jpg");
 * console.log(image.width, image.height, image.decoder);
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  name: string,
  options: DecodeImageOptions = {},
): Promise<DecodedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = readImageHeader(bytes, name, maxPixels);
  const wanted = options.decoder ?? "auto";
  let decoder: "native" | "wasm" = "wasm";
  let sharp: Sharp | undefined;
  if (wanted !== "wasm") {
    const loaded = await loadNative();
    if (loaded instanceof Error) {
      if (wanted === "native") {
        throw new ProviderError(`the native image decoder (sharp) cannot load here: ${loaded.message}`, {
          cause: loaded,
          hint: 'Use the wasm decoder (decoder: "wasm"), which works everywhere.',
        });
      }
    } else {
      sharp = loaded;
      decoder = "native";
    }
  }
  if (!sharp && header.format === "jpeg" && header.components === 4) {
    throw new InputError(`${name}: a CMYK JPEG, which the wasm decoder cannot convert to RGB`, {
      hint: "Convert it to RGB first (e.g. `convert in.jpg -colorspace sRGB out.jpg`), or run where the native " +
        "decoder (sharp) loads.",
    });
  }
  let image: RgbImage;
  try {
    image = sharp ? await decodeNative(sharp, bytes, maxPixels) : await decodeWasm(header.format, bytes);
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new InputError(`${name}: cannot decode this ${header.format.toUpperCase()} image (${reason})`, {
      cause: error,
      hint: "The file is truncated, corrupt or uses a variant the decoder does not support (e.g. CMYK JPEG " +
        "without the native decoder); re-export it as an 8-bit RGB PNG or JPEG.",
    });
  }
  if (image.width !== header.width || image.height !== header.height) {
    throw new InputError(
      `${name}: the ${header.format.toUpperCase()} header says ${header.width}×${header.height} but the decoder gave ${image.width}×${image.height}`,
    );
  }
  return {
    ...applyOrientation(image, header.orientation),
    format: header.format,
    decoder,
    orientation: header.orientation,
  };
}
