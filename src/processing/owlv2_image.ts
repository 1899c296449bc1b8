/**
 * OWLv2's image pre-processing, as transformers' Owlv2ImageProcessor does it (after the original implementation):
 * rescale to 0..1, pad bottom and right to a square with 0, resize to the model's size the scikit-image way — a
 * Gaussian anti-aliasing blur (σ = max(0, (in/out − 1) / 2) per axis, truncated at 4σ, edges mirrored) then
 * linear interpolation at pixel centres (`scipy.ndimage.zoom(order=1, mode="mirror", grid_mode=True)`), clipped
 * to the padded image's range — and normalise. A plain bilinear resize gives other pixels (and other boxes).
 *
 * @module
 */
import type { TensorData } from "../runtime/tensors.ts";
import type { RgbImage } from "./image_decode.ts";

/** The settings of one OWLv2 pre-processing (preprocessor_config.json). */
export interface Owlv2ImageSpec {
  /** Output width and height. */
  width: number;
  height: number;
  /** `rescale_factor` (1/255). */
  rescale: number;
  /** Per-channel mean and std, or undefined when `do_normalize` is false. */
  normalize?: { mean: number[]; std: number[] };
}

/** scipy.ndimage's mirror index (d c b | a b c d | c b a). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

/** scipy's normalised Gaussian kernel for σ (radius `int(4σ + 0.5)`). */
function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.trunc(4 * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) sum += kernel[x + radius] = Math.exp(-0.5 * (x * x) / (sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return kernel;
}

/** Blurs one `width × height` plane along rows (`horizontal`) or columns, in place, edges mirrored. */
function blur(plane: Float64Array, width: number, height: number, sigma: number, horizontal: boolean): void {
  if (!(sigma > 1e-15)) return;
  const kernel = gaussianKernel(sigma);
  const radius = (kernel.length - 1) / 2;
  if (radius === 0) return; // a one-tap kernel is [1]: the identity
  const n = horizontal ? width : height;
  const lines = horizontal ? height : width;
  const step = horizontal ? 1 : width;
  // the line mirrored `radius` samples past each end, so the inner loop needs no index arithmetic
  const line = new Float64Array(n + 2 * radius);
  for (let l = 0; l < lines; l++) {
    const start = horizontal ? l * width : l;
    for (let i = -radius; i < n + radius; i++) line[i + radius] = plane[start + mirror(i, n) * step];
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let k = 0; k < kernel.length; k++) acc += kernel[k] * line[i + k];
      plane[start + i * step] = acc;
    }
  }
}

/** Where output pixel `j` samples the input (pixel centres aligned), and the two neighbours' weights. */
function taps(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; t: Float64Array } {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const t = new Float64Array(outSize);
  for (let j = 0; j < outSize; j++) {
    const x = (j + 0.5) * scale - 0.5;
    const f = Math.floor(x);
    i0[j] = mirror(f, inSize);
    i1[j] = mirror(f + 1, inSize);
    t[j] = x - f;
  }
  return { i0, i1, t };
}

/**
 * OWLv2's `pixel_values` `[N, 3, height, width]` for `images`.
 *
 * @example
 * ```ts ignore
 * const tensor = owlv2PixelValues([image], { width: 960, height: 960, rescale: 1 / 255 });
 * ```
 */
export function owlv2PixelValues(images: readonly RgbImage[], spec: Owlv2ImageSpec): TensorData {
  const { width: ow, height: oh } = spec;
  const out = new Float32Array(images.length * 3 * ow * oh);
  images.forEach((image, n) => {
    const side = Math.max(image.width, image.height);
    const plane = new Float64Array(side * side);
    const sigmaY = Math.max(0, (side / oh - 1) / 2);
    const sigmaX = Math.max(0, (side / ow - 1) / 2);
    const rows = taps(oh, side);
    const cols = taps(ow, side);
    // the padded image's range (clip bounds): the padding is 0
    let min = side > image.width || side > image.height ? 0 : Infinity;
    let max = side > image.width || side > image.height ? 0 : -Infinity;
    for (let i = 0; i < image.data.length; i++) {
      const v = image.data[i] * spec.rescale;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let c = 0; c < 3; c++) {
      plane.fill(0);
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          plane[y * side + x] = image.data[(y * image.width + x) * 3 + c] * spec.rescale;
        }
      }
      blur(plane, side, side, sigmaY, false);
      blur(plane, side, side, sigmaX, true);
      const mean = spec.normalize?.mean[c] ?? 0;
      const std = spec.normalize?.std[c] ?? 1;
      const base = (n * 3 + c) * ow * oh;
      for (let y = 0; y < oh; y++) {
        const r0 = rows.i0[y] * side, r1 = rows.i1[y] * side, ty = rows.t[y];
        for (let x = 0; x < ow; x++) {
          const c0 = cols.i0[x], c1 = cols.i1[x], tx = cols.t[x];
          const top = plane[r0 + c0] * (1 - tx) + plane[r0 + c1] * tx;
          const bottom = plane[r1 + c0] * (1 - tx) + plane[r1 + c1] * tx;
          const v = Math.min(max, Math.max(min, top * (1 - ty) + bottom * ty));
          out[base + y * ow + x] = (v - mean) / std;
        }
      }
    }
  });
  return { dtype: "float32", shape: [images.length, 3, oh, ow], data: out };
}
