/**
 * Resizing float maps (logits, depth, mattes) the way PyTorch's `F.interpolate(..., align_corners=False)`
 * does, which is what transformers' post-processors call to bring a model's low-resolution output back to the
 * input image's size: the `bilinear` taps for segmentation logits and panoptic masks ({@linkcode linearTaps}, applied
 * separably by image_segmentation.ts), `bicubic` (a = -0.75) for depth ({@linkcode resizeBicubic}).
 *
 * Source coordinates are `(dst + 0.5) * in / out - 0.5`; bilinear clamps a negative one to 0 and takes its
 * neighbour only inside the map, bicubic reads its four taps with indices clamped to the edges.
 *
 * @module
 */

/** Per output index: the two source indices and their weights (PyTorch's bilinear, align_corners=False). */
export interface LinearTaps {
  /** First source index. */
  i0: Int32Array;
  /** Second source index (equal to the first at the edge). */
  i1: Int32Array;
  /** Weight of the first. */
  w0: Float32Array;
  /** Weight of the second. */
  w1: Float32Array;
}

/** The bilinear taps mapping `inSize` source samples onto `outSize`. */
export function linearTaps(inSize: number, outSize: number): LinearTaps {
  const scale = Math.fround(inSize / outSize);
  const taps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  for (let d = 0; d < outSize; d++) {
    const real = Math.max(0, Math.fround(Math.fround(scale * (d + 0.5)) - 0.5));
    const i0 = Math.min(Math.floor(real), inSize - 1);
    const lambda = Math.fround(real - i0);
    taps.i0[d] = i0;
    taps.i1[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    taps.w1[d] = lambda;
    taps.w0[d] = Math.fround(1 - lambda);
  }
  return taps;
}

const A = -0.75;

function cubicWeights(t: number): [number, number, number, number] {
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}

/** One `inH × inW` plane resized bicubically (PyTorch's `bicubic`, a = -0.75, edges clamped) to `outH × outW`. */
export function resizeBicubic(
  data: ArrayLike<number>,
  offset: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
): Float32Array {
  const taps = (inSize: number, outSize: number) => {
    const scale = Math.fround(inSize / outSize);
    const index = new Int32Array(outSize * 4);
    const weight = new Float64Array(outSize * 4);
    for (let d = 0; d < outSize; d++) {
      const real = Math.fround(Math.fround(scale * (d + 0.5)) - 0.5);
      const base = Math.floor(real);
      const w = cubicWeights(Math.fround(real - base));
      for (let k = 0; k < 4; k++) {
        index[d * 4 + k] = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
        weight[d * 4 + k] = w[k];
      }
    }
    return { index, weight };
  };
  const ys = taps(inH, outH);
  const xs = taps(inW, outW);
  // separable, in PyTorch's order: each source row interpolated along x once, then the four rows along y
  const across = new Float64Array(inH * outW);
  for (let r = 0; r < inH; r++) {
    const row = offset + r * inW;
    for (let x = 0; x < outW; x++) {
      let v = 0;
      for (let j = 0; j < 4; j++) v += xs.weight[x * 4 + j] * data[row + xs.index[x * 4 + j]];
      across[r * outW + x] = v;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = ys.index[y * 4] * outW, r1 = ys.index[y * 4 + 1] * outW;
    const r2 = ys.index[y * 4 + 2] * outW, r3 = ys.index[y * 4 + 3] * outW;
    const w0 = ys.weight[y * 4], w1 = ys.weight[y * 4 + 1], w2 = ys.weight[y * 4 + 2], w3 = ys.weight[y * 4 + 3];
    for (let x = 0; x < outW; x++) {
      out[y * outW + x] = across[r0 + x] * w0 + across[r1 + x] * w1 + across[r2 + x] * w2 + across[r3 + x] * w3;
    }
  }
  return out;
}
