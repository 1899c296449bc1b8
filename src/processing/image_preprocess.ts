/**
 * RGB pixels to a model's input tensor, the way Python transformers' image processors (ViT, CLIP,
 * ConvNeXT, BiT, DeiT …, the PIL-based "slow" ones) do it: resize, center crop, rescale, normalize,
 * then lay out as NCHW or NHWC.
 *
 * The steps, read from a repository's `preprocessor_config.json` ({@linkcode imageSpecFromProcessorConfig})
 * or from gpux.yml's `preprocessing:` ({@linkcode imageSpecFromGpuxConfig}), form an {@linkcode ImageSpec}.
 * Arithmetic follows transformers: resize in 8 bits with Pillow's filters ({@linkcode resizeImage}),
 * crop offsets `(size - crop) // 2`, rescale in float64 then cast to float32, normalize in float32. As
 * every value is a function of one byte and its channel, rescale and normalize are a 256-entry table.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { PreprocessingConfig } from "../config/gpux_config.ts";
import type { TensorData } from "../runtime/tensors.ts";
import type { RgbImage } from "./image_decode.ts";
import { PIL_RESAMPLE, type ResampleFilter, resizeImage } from "./image_resize.ts";

/** How an image becomes a tensor. */
export interface ImageSpec {
  /** Resize: to the shortest edge (aspect kept, long edge truncated as transformers does) or a fixed size. */
  resize?: { shortestEdge: number; longestEdge?: number } | { width: number; height: number };
  /** Resampling filter for the resize (default bilinear). */
  resample: ResampleFilter;
  /** Center crop to this size. */
  crop?: { width: number; height: number };
  /** Multiply by this (transformers' `rescale_factor`; `undefined`: no rescale). */
  rescale?: number;
  /** Per-channel mean and standard deviation (`undefined`: no normalization). */
  normalize?: { mean: [number, number, number]; std: [number, number, number] };
  /** Tensor layout; `undefined`: as the model's input shape says. */
  layout?: "nchw" | "nhwc";
}

/** The hint of every error about a processor setting. */
const FIX_HINT = {
  hint: "fix that setting in the model's preprocessor_config.json (or gpux.yml preprocessing:), e.g. as the " +
    "model's original repository has it",
};

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function three(values: unknown, what: string, source: string): [number, number, number] {
  const list = typeof values === "number" ? [values] : values;
  if (!Array.isArray(list) || !list.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new InputError(`${source}: ${what} must be a number or a list of numbers`, FIX_HINT);
  }
  if (list.length === 1) return [list[0], list[0], list[0]];
  if (list.length !== 3) {
    throw new InputError(`${source}: ${what} must have 1 or 3 values, got ${list.length}`, FIX_HINT);
  }
  return [list[0], list[1], list[2]];
}

/**
 * Largest edge, in pixels, a processor may resize or crop to (8192: four times the largest input of common
 * vision models, SAM's and DETR's 1024–1333 included). `size: 100000` would ask for a 10-gigapixel buffer.
 */
export const MAX_PROCESSOR_EDGE = 8192;

function positive(v: unknown, what: string, source: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new InputError(`${source}: ${what} must be a positive integer, got ${JSON.stringify(v)}`, FIX_HINT);
  }
  return edgeWithinLimit(v, what, source);
}

function edgeWithinLimit(v: number, what: string, source: string): number {
  if (v > MAX_PROCESSOR_EDGE) {
    throw new InputError(
      `${source}: ${what} is ${v} pixels, more than the ${MAX_PROCESSOR_EDGE} gpux resizes or crops to`,
      { hint: `fix ${what} in ${source} (models take a few hundred to ${MAX_PROCESSOR_EDGE} pixels a side)` },
    );
  }
  return v;
}

function sizeDict(
  v: unknown,
  squareByDefault: boolean,
  what: string,
  source: string,
): ImageSpec["resize"] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") {
    const n = positive(v, what, source);
    return squareByDefault ? { width: n, height: n } : { shortestEdge: n };
  }
  if (typeof v === "object") {
    const d = v as Record<string, unknown>;
    if (d.height !== undefined || d.width !== undefined) {
      return {
        width: positive(d.width, `${what}.width`, source),
        height: positive(d.height, `${what}.height`, source),
      };
    }
    if (d.shortest_edge !== undefined) {
      return {
        shortestEdge: positive(d.shortest_edge, `${what}.shortest_edge`, source),
        ...(d.longest_edge !== undefined
          ? { longestEdge: positive(d.longest_edge, `${what}.longest_edge`, source) }
          : {}),
      };
    }
  }
  throw new InputError(`${source}: ${what} must be a number, {height, width} or {shortest_edge}`, FIX_HINT);
}

/**
 * The steps a transformers `preprocessor_config.json` describes: `do_resize`/`size`/`resample`,
 * `do_center_crop`/`crop_size` (and ConvNeXT's `crop_pct`), `do_rescale`/`rescale_factor`,
 * `do_normalize`/`image_mean`/`image_std`. A bare number as `size` is a square when there is no crop
 * (ViT) and the shortest edge when there is one (CLIP).
 *
 * @throws {InputError} a key of the wrong type (naming `source`).
 */
export function imageSpecFromProcessorConfig(
  config: Record<string, unknown>,
  source = "preprocessor_config.json",
): ImageSpec {
  const doCrop = config.do_center_crop !== false && config.crop_size !== undefined && config.crop_size !== null;
  let resize = config.do_resize === false ? undefined : sizeDict(config.size, !doCrop, "size", source);
  let crop: ImageSpec["crop"];
  if (doCrop) {
    const c = sizeDict(config.crop_size, true, "crop_size", source)!;
    crop = "width" in c ? c : { width: c.shortestEdge, height: c.shortestEdge };
  }
  // ConvNeXT: resize to shortest_edge / crop_pct, then crop shortest_edge (below 384 px).
  if (typeof config.crop_pct === "number" && resize && "shortestEdge" in resize) {
    const edge = resize.shortestEdge;
    if (!(config.crop_pct > 0 && config.crop_pct <= 1)) {
      throw new InputError(`${source}: crop_pct must be a fraction in (0, 1], got ${config.crop_pct}`, FIX_HINT);
    }
    if (edge < 384) {
      resize = { shortestEdge: edgeWithinLimit(Math.trunc(edge / config.crop_pct), "size / crop_pct", source) };
      crop = { width: edge, height: edge };
    } else {
      resize = { width: edge, height: edge };
    }
  }
  const resampleCode = config.resample ?? 2;
  const resample = typeof resampleCode === "number" ? PIL_RESAMPLE[resampleCode] : typeof resampleCode === "string" // a few configs spell it out ("bicubic", "BILINEAR", "lanczos")
    ? Object.values(PIL_RESAMPLE).find((f) => f === resampleCode.toLowerCase())
    : undefined;
  if (!resample) {
    throw new InputError(`${source}: resample ${JSON.stringify(resampleCode)} is not a Pillow filter (0–5)`, FIX_HINT);
  }
  const rescale = config.do_rescale === false
    ? undefined
    : typeof config.rescale_factor === "number"
    ? config.rescale_factor
    : 1 / 255;
  const normalize = config.do_normalize === false ? undefined : {
    mean: three(config.image_mean ?? IMAGENET.mean, "image_mean", source),
    std: three(config.image_std ?? IMAGENET.std, "image_std", source),
  };
  return { resize, resample, crop, rescale, normalize };
}

/**
 * The steps gpux.yml's `preprocessing:` describes (`resize`, `crop`, `mean`/`std` or `normalize`, `layout`),
 * rescaling to 0..1 and resampling bilinearly. Without `mean`/`std`/`normalize` there is no normalization.
 */
export function imageSpecFromGpuxConfig(p: PreprocessingConfig, source = "gpux.yml"): ImageSpec {
  const pair = (v: number | [number, number], what: string) => {
    const [width, height] = typeof v === "number" ? [v, v] : v;
    return {
      width: edgeWithinLimit(width, `preprocessing.${what}`, source),
      height: edgeWithinLimit(height, `preprocessing.${what}`, source),
    };
  };
  let normalize: ImageSpec["normalize"];
  if (p.mean || p.std) {
    normalize = { mean: three(p.mean ?? [0], "mean", source), std: three(p.std ?? [1], "std", source) };
  } else if (p.normalize === "imagenet") {
    normalize = { mean: three(IMAGENET.mean, "mean", source), std: three(IMAGENET.std, "std", source) };
  }
  return {
    resize: p.resize === undefined
      ? undefined
      : typeof p.resize === "number"
      ? { shortestEdge: edgeWithinLimit(p.resize, "preprocessing.resize", source) }
      : pair(p.resize, "resize"),
    resample: "bilinear",
    crop: p.crop === undefined ? undefined : pair(p.crop, "crop"),
    rescale: 1 / 255,
    normalize,
    layout: p.layout,
  };
}

/** Output size of a shortest-edge resize, as transformers' `get_resize_output_image_size` computes it. */
export function shortestEdgeSize(
  width: number,
  height: number,
  shortestEdge: number,
  longestEdge?: number,
): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let newShort = shortestEdge;
  let newLong = Math.trunc(shortestEdge * long / short);
  if (longestEdge !== undefined && newLong > longestEdge) {
    newShort = Math.trunc(longestEdge * newShort / newLong);
    newLong = longestEdge;
  }
  return width <= height ? { width: newShort, height: newLong } : { width: newLong, height: newShort };
}

/** Center crop as transformers' `center_crop` (offsets `(size - crop) // 2`); outside the image is zero. */
export function centerCrop(image: RgbImage, width: number, height: number): RgbImage {
  if (width === image.width && height === image.height) return image;
  const top = Math.floor((image.height - height) / 2);
  const left = Math.floor((image.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= image.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, image.width - left);
    if (x1 <= x0) continue;
    out.set(
      image.data.subarray((sy * image.width + left + x0) * 3, (sy * image.width + left + x1) * 3),
      (y * width + x0) * 3,
    );
  }
  return { width, height, data: out };
}

/** Resize and crop as `spec` says, in 8 bits. */
export function resizeAndCrop(image: RgbImage, spec: ImageSpec): RgbImage {
  let out = image;
  if (spec.resize) {
    const size = "shortestEdge" in spec.resize
      ? shortestEdgeSize(out.width, out.height, spec.resize.shortestEdge, spec.resize.longestEdge)
      : spec.resize;
    // a shortest-edge resize of a very thin image makes its long edge huge: bound the buffer it would need
    if (size.width * size.height > MAX_PROCESSOR_EDGE * MAX_PROCESSOR_EDGE) {
      throw new InputError(
        `the image (${image.width}×${image.height}) would be resized to ${size.width}×${size.height} pixels, more ` +
          `than the ${MAX_PROCESSOR_EDGE}×${MAX_PROCESSOR_EDGE} gpux allows`,
        { hint: "crop the image closer to the shape the model expects first" },
      );
    }
    out = resizeImage(out, size.width, size.height, spec.resample);
  }
  if (spec.crop) out = centerCrop(out, spec.crop.width, spec.crop.height);
  return out;
}

/** Per channel, the float32 value of each byte after rescale and normalize (transformers' order and precision). */
function valueTable(spec: ImageSpec): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(spec.normalize?.mean[c] ?? 0);
    const std = Math.fround(spec.normalize?.std[c] ?? 1);
    for (let v = 0; v < 256; v++) {
      let x = Math.fround(spec.rescale === undefined ? v : v * spec.rescale);
      if (spec.normalize) x = Math.fround(Math.fround(x - mean) / std);
      table[c * 256 + v] = x;
    }
  }
  return table;
}

/**
 * Pixels (already resized and cropped) of one or more images of equal size to a float32 tensor
 * `[N, 3, H, W]` (`nchw`) or `[N, H, W, 3]` (`nhwc`), rescaled and normalized as `spec` says.
 *
 * @throws {InputError} the images differ in size.
 */
export function imagesToTensor(images: readonly RgbImage[], spec: ImageSpec, layout: "nchw" | "nhwc"): TensorData {
  const { width, height } = images[0];
  const table = valueTable(spec);
  const plane = width * height;
  const data = new Float32Array(images.length * plane * 3);
  images.forEach((image, n) => {
    if (image.width !== width || image.height !== height) {
      throw new InputError(
        `images of different sizes (${width}×${height} and ${image.width}×${image.height}) cannot form one batch`,
        { hint: "Configure a resize or crop so every image has the model's size." },
      );
    }
    const px = image.data;
    const base = n * plane * 3;
    if (layout === "nhwc") {
      for (let i = 0; i < plane * 3; i += 3) {
        data[base + i] = table[px[i]];
        data[base + i + 1] = table[256 + px[i + 1]];
        data[base + i + 2] = table[512 + px[i + 2]];
      }
    } else {
      for (let i = 0, j = 0; i < plane; i++, j += 3) {
        data[base + i] = table[px[j]];
        data[base + plane + i] = table[256 + px[j + 1]];
        data[base + 2 * plane + i] = table[512 + px[j + 2]];
      }
    }
  });
  const shape = layout === "nhwc" ? [images.length, height, width, 3] : [images.length, 3, height, width];
  return { dtype: "float32", shape, data };
}

/**
 * The layout a model's image input declares: channels (3) second is NCHW, channels last is NHWC; a
 * shape that says neither is NCHW (what almost every exported vision model uses).
 */
export function layoutFromShape(shape: readonly (number | string | null)[] | undefined): "nchw" | "nhwc" {
  if (shape && shape.length === 4 && shape[3] === 3 && shape[1] !== 3) return "nhwc";
  return "nchw";
}
