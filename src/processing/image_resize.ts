/**
 * Resizing 8-bit RGB images with Pillow's exact arithmetic, so that tensors match what Python
 * transformers' image processors (which call `PIL.Image.resize`) give the same model.
 *
 * Pillow (`libImaging/Resample.c`) resamples separably: for each output pixel a filter is centred at
 * `(i + 0.5) * scale` in the source, its support widened by the scale when shrinking (which is what
 * anti-aliases a downscale), its weights normalised to sum 1 and turned into 22-bit fixed point; the
 * horizontal pass runs first over just the rows the vertical pass needs, and each pass rounds and clips
 * to 8 bits. This file does the same steps in the same order, so results are equal to the byte (up to
 * the last bit of `Math.sin` against C's `sin` in the Lanczos and Hamming weights). `nearest` follows
 * Pillow's affine nearest-neighbour: source index `floor(scale / 2 + i × scale)`, accumulated in doubles as
 * Pillow does (which is not always the same integer as computing it directly).
 *
 * @module
 */
import type { RgbImage } from "./image_decode.ts";

/** Resampling filters, named as Pillow names them. */
export type ResampleFilter = "nearest" | "box" | "bilinear" | "hamming" | "bicubic" | "lanczos";

/** Pillow's `Image.Resampling` numbers (what preprocessor_config.json's `resample` holds) to filter names. */
export const PIL_RESAMPLE: Record<number, ResampleFilter> = {
  0: "nearest",
  1: "lanczos",
  2: "bilinear",
  3: "bicubic",
  4: "box",
  5: "hamming",
};

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const FILTERS: Record<Exclude<ResampleFilter, "nearest">, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  hamming: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return Math.sin(x) / x * (0.54 + 0.46 * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE_HALF = 1 << (PRECISION_BITS - 1);
const CLIP_MAX = (1 << PRECISION_BITS) * 256;

interface Coefficients {
  /** Kernel size (taps per output pixel, zero-padded). */
  ksize: number;
  /** Per output pixel: first source index. */
  start: Int32Array;
  /** Per output pixel: number of taps used. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  weights: Int32Array;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`. */
function coefficients(inSize: number, outSize: number, filter: Exclude<ResampleFilter, "nearest">): Coefficients {
  const { support: baseSupport, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = baseSupport * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, start, count, weights };
}

function clip8(v: number): number {
  if (v >= CLIP_MAX) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** Pillow's `ImagingScaleAffine`: the source coordinate starts at half a step and accumulates (in doubles). */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const step = inSize / outSize;
  const out = new Int32Array(outSize);
  let at = step * 0.5;
  for (let i = 0; i < outSize; i++, at += step) out[i] = Math.min(inSize - 1, Math.trunc(at));
  return out;
}

function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const { width: w, data } = image;
  const xs = nearestIndices(w, width);
  const ys = nearestIndices(image.height, height);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = ys[y] * w * 3;
    for (let x = 0; x < width; x++) {
      const s = row + xs[x] * 3;
      const d = (y * width + x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * Resizes `image` to `width` × `height` as `PIL.Image.resize((width, height), filter)` does.
 *
 * @example
 * ```ts
 * const image = { width: 2, height: 1, data: new Uint8Array([0, 0, 0, 255, 255, 255]) };
 * resizeImage(image, 4, 1, "bilinear").data; // 0,0,0, 64,64,64, 191,191,191, 255,255,255
 * ```
 */
export function resizeImage(image: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  if (width === image.width && height === image.height) return image;
  if (filter === "nearest") return resizeNearest(image, width, height);
  const { width: inW, height: inH } = image;
  const needH = width !== inW;
  const needV = height !== inH;
  const vert = coefficients(inH, height, filter);
  const firstRow = vert.start[0];
  const lastRow = vert.start[height - 1] + vert.count[height - 1];

  let src = image.data;
  let srcW = inW;
  let rowOffset = 0; // source row of the temporary image's first row
  if (needH) {
    const horiz = coefficients(inW, width, filter);
    const rows = needV ? lastRow - firstRow : inH;
    const from = needV ? firstRow : 0;
    const tmp = new Uint8Array(width * rows * 3);
    const { ksize, start, count, weights } = horiz;
    for (let y = 0; y < rows; y++) {
      const inRow = (y + from) * inW * 3;
      const outRow = y * width * 3;
      for (let x = 0; x < width; x++) {
        const k = x * ksize;
        const n = count[x];
        let s = inRow + start[x] * 3;
        let r = ONE_HALF, g = ONE_HALF, b = ONE_HALF;
        for (let i = 0; i < n; i++, s += 3) {
          const w = weights[k + i];
          r += src[s] * w;
          g += src[s + 1] * w;
          b += src[s + 2] * w;
        }
        const d = outRow + x * 3;
        tmp[d] = clip8(r);
        tmp[d + 1] = clip8(g);
        tmp[d + 2] = clip8(b);
      }
    }
    src = tmp;
    srcW = width;
    rowOffset = from;
  }
  if (!needV) return { width, height, data: src };

  const out = new Uint8Array(width * height * 3);
  const { ksize, start, count, weights } = vert;
  const stride = srcW * 3;
  for (let y = 0; y < height; y++) {
    const k = y * ksize;
    const n = count[y];
    const base = (start[y] - rowOffset) * stride;
    const outRow = y * width * 3;
    for (let x = 0; x < width * 3; x++) {
      let v = ONE_HALF;
      let s = base + x;
      for (let i = 0; i < n; i++, s += stride) v += src[s] * weights[k + i];
      out[outRow + x] = clip8(v);
    }
  }
  return { width, height, data: out };
}

/**
 * Resizes one 8-bit channel (`width × height`, row-major) as `PIL.Image.resize` does for a mode "L" image: the
 * same coefficients and rounding as {@linkcode resizeImage}, one channel instead of three — a third of the work
 * where a mask or matte is grey (background removal's alpha).
 *
 * @example
 * ```ts
 * resizeGrey(new Uint8Array([0, 255]), 2, 1, 4, 1, "bilinear"); // Uint8Array [0, 64, 191, 255]
 * ```
 */
export function resizeGrey(
  data: Uint8Array,
  inW: number,
  inH: number,
  width: number,
  height: number,
  filter: Exclude<ResampleFilter, "nearest">,
): Uint8Array {
  if (width === inW && height === inH) return data.slice();
  const needH = width !== inW;
  const needV = height !== inH;
  const vert = coefficients(inH, height, filter);
  const firstRow = vert.start[0];
  const lastRow = vert.start[height - 1] + vert.count[height - 1];
  let src = data;
  let rowOffset = 0;
  if (needH) {
    const rows = needV ? lastRow - firstRow : inH;
    const from = needV ? firstRow : 0;
    const tmp = new Uint8Array(width * rows);
    const { ksize, start, count, weights } = coefficients(inW, width, filter);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + from) * inW;
      for (let x = 0; x < width; x++) {
        const k = x * ksize;
        const n = count[x];
        let v = ONE_HALF;
        for (let i = 0, s = inRow + start[x]; i < n; i++, s++) v += src[s] * weights[k + i];
        tmp[y * width + x] = clip8(v);
      }
    }
    src = tmp;
    rowOffset = from;
  }
  if (!needV) return src;
  const out = new Uint8Array(width * height);
  const { ksize, start, count, weights } = vert;
  for (let y = 0; y < height; y++) {
    const k = y * ksize;
    const n = count[y];
    const base = (start[y] - rowOffset) * width;
    for (let x = 0; x < width; x++) {
      let v = ONE_HALF;
      for (let i = 0, s = base + x; i < n; i++, s += width) v += src[s] * weights[k + i];
      out[y * width + x] = clip8(v);
    }
  }
  return out;
}
