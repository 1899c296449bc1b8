/**
 * Images to feeds for the vision tasks that answer in the input's pixels (object detection, segmentation, depth,
 * background removal): each image decoded, its original size kept for post-processing, resized as the processor
 * config says — DETR's aspect-kept rule for `size: {shortest_edge, longest_edge}` (`get_size_with_aspect_ratio`),
 * or a task's own rule (DPT's) — and a batch of unequal sizes padded bottom-right to the largest with zeros after
 * normalization, with a `pixel_mask`, as DETR's image processor pads (refused for a model without a `pixel_mask`
 * input, which would see the padding as picture).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { TensorData } from "../runtime/tensors.ts";
import { decodeImage, type RgbImage } from "./image_decode.ts";
import { imagesToTensor, resizeAndCrop } from "./image_preprocess.ts";
import { resizeImage } from "./image_resize.ts";
import type { ImageTaskState } from "./image_classification.ts";
import type { ImageInput, PipelineContext } from "./task_types.ts";

/** What `preprocess` hands `postprocess`: each input's original size. */
export interface ImageSizes {
  /** Width and height of each decoded input image. */
  sizes: { width: number; height: number }[];
}

/**
 * DETR's `get_size_with_aspect_ratio`: the shortest edge to `size` unless the longest would pass `maxSize`; with
 * `modSize` (YOLOS's `get_size_with_aspect_ratio_yolos`, 16) each edge then rounded down to a multiple of it.
 */
export function detrResizeSize(
  width: number,
  height: number,
  size: number,
  maxSize?: number,
  modSize?: number,
): { width: number; height: number } {
  const out = detrSize(width, height, size, maxSize);
  // YOLOS: each edge down to a multiple of its patch grid's 16
  return modSize ? { width: out.width - out.width % modSize, height: out.height - out.height % modSize } : out;
}

function detrSize(width: number, height: number, size: number, maxSize?: number): { width: number; height: number } {
  let rawSize: number | undefined;
  if (maxSize !== undefined) {
    const min = Math.min(width, height), max = Math.max(width, height);
    if (max / min * size > maxSize) {
      rawSize = maxSize * min / max;
      size = roundHalfEven(rawSize);
    }
  }
  if ((height <= width && height === size) || (width <= height && width === size)) return { width, height };
  if (width < height) {
    return { width: size, height: Math.trunc((rawSize ?? size) * height / width) };
  }
  return { height: size, width: Math.trunc((rawSize ?? size) * width / height) };
}

/** Python's `round`: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Decodes and resizes the images of `input` as `state.spec` says (DETR's rule for `{shortest_edge, longest_edge}`)
 * and pads a batch of unequal sizes bottom-right with zeros. Returns the feeds (with `pixel_mask` where the model
 * takes one) and each image's original size. Shared by the vision tasks that answer in input pixels.
 */
export async function detectionFeeds(
  input: ImageInput,
  state: ImageTaskState,
  ctx: PipelineContext,
  sizeFor?: (width: number, height: number) => { width: number; height: number },
): Promise<{ feeds: Record<string, TensorData>; sizes: { width: number; height: number }[] }> {
  if (input.images.length === 0) throw new InputError("no image given", { hint: "pass --image PATH (or - for stdin)" });
  const sizes: { width: number; height: number }[] = [];
  const images: RgbImage[] = [];
  for (const file of input.images) {
    const decoded = await decodeImage(file.bytes, file.name, state.decode);
    sizes.push({ width: decoded.width, height: decoded.height });
    const resize = state.spec.resize;
    if (resize && sizeFor) {
      const to = sizeFor(decoded.width, decoded.height);
      const resized = resizeImage(decoded, to.width, to.height, state.spec.resample);
      images.push(state.spec.crop ? resizeAndCrop(resized, { ...state.spec, resize: undefined }) : resized);
    } else if (resize && "shortestEdge" in resize && resize.longestEdge !== undefined) {
      const modSize = ctx.config.model_type === "yolos" ? 16 : undefined;
      const to = detrResizeSize(decoded.width, decoded.height, resize.shortestEdge, resize.longestEdge, modSize);
      const resized = resizeImage(decoded, to.width, to.height, state.spec.resample);
      images.push(state.spec.crop ? resizeAndCrop(resized, { ...state.spec, resize: undefined }) : resized);
    } else {
      images.push(resizeAndCrop(decoded, state.spec));
    }
  }
  const width = Math.max(...images.map((i) => i.width));
  const height = Math.max(...images.map((i) => i.height));
  const takesMask = ctx.session.inputs.some((i) => i.name === "pixel_mask");
  const uneven = images.find((i) => i.width !== width || i.height !== height);
  if (uneven && !takesMask) {
    const sizes = [...new Set(images.map((i) => `${i.width}×${i.height}`))].join(", ");
    throw new InputError(
      `the images resize to different sizes (${sizes}), and the model takes no pixel_mask to tell their padding from the picture`,
      { hint: "run one image at a time (or resize the images to one size first)" },
    );
  }
  const padded = images.map((image) => pad(image, width, height));
  const tensor = imagesToTensor(padded.map((p) => p.image), state.spec, state.layout);
  // padding is zeros after normalization, as transformers pads the normalized array
  const plane = width * height;
  padded.forEach((p, n) => {
    if (p.image === images[n]) return;
    const data = tensor.data as Float32Array;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (x < images[n].width && y < images[n].height) continue;
          const i = state.layout === "nchw"
            ? (n * 3 + c) * plane + y * width + x
            : ((n * height + y) * width + x) * 3 + c;
          data[i] = 0;
        }
      }
    }
  });
  const feeds: Record<string, TensorData> = { [state.input.name]: tensor };
  if (takesMask) {
    const mask = new BigInt64Array(images.length * plane);
    images.forEach((image, n) => {
      for (let y = 0; y < image.height; y++) mask.fill(1n, n * plane + y * width, n * plane + y * width + image.width);
    });
    feeds.pixel_mask = { dtype: "int64", shape: [images.length, height, width], data: mask };
  }
  return { feeds, sizes };
}

function pad(image: RgbImage, width: number, height: number): { image: RgbImage } {
  if (image.width === width && image.height === height) return { image };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), y * width * 3);
  }
  return { image: { width, height, data } };
}
