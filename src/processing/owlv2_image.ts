/**
 * OWLv2's image pre-processing, as transformers' Owlv2ImageProcessor does it (after the original implementation):
 * rescale to 0..1, pad bottom and right to a square with 0, resize to the model's size the scikit-image way — a
 * Gaussian anti-aliasing blur (σ = max(0, (in/out − 1) / 2) per axis, truncated at 4σ, edges mirrored) then
 * linear interpolation at pixel centres (`scipy.ndimage.zoom(order=1, mode="mirror", grid_mode=True)`), clipped
 * to the padded image's range — and normalise. A plain bilinear resize gives other pixels (and other boxes).
 * (scipy's Gaussian filter skips an axis whose σ is 0; a one-tap kernel is the identity, so both read as `[1]`.)
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

/** scipy's normalised Gaussian kernel for σ (radius `int(4σ + 0.5)`); `[1]` for σ = 0 (no blur). */
function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 1e-15)) return Float64Array.of(1);
  const radius = Math.trunc(4 * sigma + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) sum += kernel[x + radius] = Math.exp(-0.5 * (x * x) / (sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return kernel;
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
    t[j] = x - f;
    // a sample on a pixel centre weighs its right neighbour 0: reading i0 twice gives the same value and spares
    // `needed` a source row (or column) to blur — half of them when the scale is a whole number
    i1[j] = t[j] === 0 ? i0[j] : mirror(f + 1, inSize);
  }
  return { i0, i1, t };
}

/** The sorted distinct source indices `taps` reads, and each index's place among them. */
function needed(t: { i0: Int32Array; i1: Int32Array }, size: number): { list: Int32Array; at: Int32Array } {
  const at = new Int32Array(size).fill(-1);
  for (const i of t.i0) at[i] = 0;
  for (const i of t.i1) at[i] = 0;
  const list: number[] = [];
  for (let i = 0; i < size; i++) if (at[i] === 0) at[i] = list.push(i) - 1;
  return { list: Int32Array.from(list), at };
}

/**
 * OWLv2's `pixel_values` `[N, 3, height, width]` for `images`. The blur is computed only where the resize reads
 * it (at most two source rows and columns per output row and column), so a large photo costs what its output
 * needs, not a full-size blurred copy; the padding is read as 0 without being built.
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
    const { width: iw, height: ih, data } = image;
    const side = Math.max(iw, ih);
    const ky = gaussianKernel(Math.max(0, (side / oh - 1) / 2));
    const kx = gaussianKernel(Math.max(0, (side / ow - 1) / 2));
    const ry = (ky.length - 1) / 2, rx = (kx.length - 1) / 2;
    const rows = taps(oh, side);
    const cols = taps(ow, side);
    const rowSet = needed(rows, side);
    const colSet = needed(cols, side);
    // mirrored source index of each kernel tap around each needed row / column
    const rowTaps = new Int32Array(rowSet.list.length * ky.length);
    rowSet.list.forEach((r, j) => {
      for (let k = 0; k < ky.length; k++) rowTaps[j * ky.length + k] = mirror(r + k - ry, side);
    });
    const colTaps = new Int32Array(colSet.list.length * kx.length);
    colSet.list.forEach((c, j) => {
      for (let k = 0; k < kx.length; k++) colTaps[j * kx.length + k] = mirror(c + k - rx, side);
    });
    // the padded image's range (clip bounds): the padding is 0
    const padded = side > iw || side > ih;
    let min = padded ? 0 : Infinity;
    let max = padded ? 0 : -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i] * spec.rescale;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    // blur along y (axis 0) at the needed rows, then along x (axis 1) at the needed columns, as scipy's order;
    // the three channels in one pass over each source row (interleaved RGB, read in memory order)
    const vertical = new Float64Array(side * 3); // one needed row, blurred along y, every column and channel
    const stride = colSet.list.length;
    const plane = rowSet.list.length * stride;
    const blurred = new Float64Array(3 * plane); // channel-major: [c][needed row][needed column]
    for (let j = 0; j < rowSet.list.length; j++) {
      vertical.fill(0);
      for (let k = 0; k < ky.length; k++) {
        const y = rowTaps[j * ky.length + k];
        if (y >= ih) continue; // padding
        const weight = ky[k] * spec.rescale;
        for (let x = 0, i = y * iw * 3; x < iw * 3; x++, i++) vertical[x] += weight * data[i];
      }
      for (let m = 0; m < stride; m++) {
        let r = 0, g = 0, b = 0;
        for (let k = 0; k < kx.length; k++) {
          const w = kx[k], at = colTaps[m * kx.length + k] * 3;
          r += w * vertical[at];
          g += w * vertical[at + 1];
          b += w * vertical[at + 2];
        }
        blurred[j * stride + m] = r;
        blurred[plane + j * stride + m] = g;
        blurred[2 * plane + j * stride + m] = b;
      }
    }
    for (let c = 0; c < 3; c++) {
      const mean = spec.normalize?.mean[c] ?? 0;
      const std = spec.normalize?.std[c] ?? 1;
      const base = (n * 3 + c) * ow * oh;
      for (let y = 0; y < oh; y++) {
        const r0 = c * plane + rowSet.at[rows.i0[y]] * stride, ty = rows.t[y];
        const r1 = c * plane + rowSet.at[rows.i1[y]] * stride;
        for (let x = 0; x < ow; x++) {
          const c0 = colSet.at[cols.i0[x]], c1 = colSet.at[cols.i1[x]], tx = cols.t[x];
          const top = blurred[r0 + c0] * (1 - tx) + blurred[r0 + c1] * tx;
          const bottom = blurred[r1 + c0] * (1 - tx) + blurred[r1 + c1] * tx;
          const v = Math.min(max, Math.max(min, top * (1 - ty) + bottom * ty));
          out[base + y * ow + x] = (v - mean) / std;
        }
      }
    }
  });
  return { dtype: "float32", shape: [images.length, 3, oh, ow], data: out };
}
