/**
 * A vision task's answer as pictures, one PNG per input image, for `gpux run --output FILE.png`: the boxes of
 * object detection drawn on the input, segments tinted over it, background removal's RGBA cut-out, the grey
 * depth map. Masks and depth are never printed as numbers; `--json` keeps them (result_json.ts).
 *
 * @module
 */
import { InputError } from "../errors.ts";
import { decodeImage, type RgbImage } from "./image_decode.ts";
import { encodeGreyPng, encodeRgbPng } from "./png_encode.ts";
import type { DetectedObject, ImageInput, TaskResult } from "./task_types.ts";

/** Distinct colours, one per label in the order labels first appear. */
const PALETTE: [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [170, 110, 40],
];

function colourFor(labels: Map<string, number>, label: string): [number, number, number] {
  if (!labels.has(label)) labels.set(label, labels.size);
  return PALETTE[labels.get(label)! % PALETTE.length];
}

/** Draws each object's box as a 2-pixel outline in its label's colour, on a copy of `image`. */
export function drawBoxes(image: RgbImage, objects: DetectedObject[]): RgbImage {
  const out = { ...image, data: image.data.slice() };
  const labels = new Map<string, number>();
  const set = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= out.width || y >= out.height) return;
    out.data.set(c, (y * out.width + x) * 3);
  };
  for (const o of objects) {
    const c = colourFor(labels, o.label);
    const x0 = Math.round(o.box.xmin), x1 = Math.round(o.box.xmax) - 1;
    const y0 = Math.round(o.box.ymin), y1 = Math.round(o.box.ymax) - 1;
    for (let t = 0; t < 2; t++) {
      for (let x = x0; x <= x1; x++) {
        set(x, y0 + t, c);
        set(x, y1 - t, c);
      }
      for (let y = y0; y <= y1; y++) {
        set(x0 + t, y, c);
        set(x1 - t, y, c);
      }
    }
  }
  return out;
}

/** Tints each segment's pixels half-way towards a colour of its own (two instances of a label differ), on a copy. */
export function tintSegments(image: RgbImage, masks: { mask: Uint8Array }[]): RgbImage {
  const out = { ...image, data: image.data.slice() };
  for (const [index, { mask }] of masks.entries()) {
    const c = PALETTE[index % PALETTE.length];
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] < 128) continue;
      for (let k = 0; k < 3; k++) out.data[i * 3 + k] = (image.data[i * 3 + k] + c[k]) >> 1;
    }
  }
  return out;
}

/**
 * One PNG per input image showing `result` (detection, segmentation, background removal, depth).
 *
 * @throws {InputError} the task's answer is not a picture (classification, text, …).
 */
export async function resultImages(result: TaskResult, input: ImageInput): Promise<Uint8Array[]> {
  if (result.kind === "depth") {
    return await Promise.all(result.depths.map((d) => encodeGreyPng(d.width, d.height, d.picture)));
  }
  if (result.kind !== "detection" && result.kind !== "segmentation") {
    throw new InputError(`--output FILE.png takes a picture; ${result.task} answers ${result.kind}`, {
      hint: "use --json for this task's answer",
    });
  }
  const pngs: Uint8Array[] = [];
  for (let i = 0; i < input.images.length; i++) {
    const image = await decodeImage(input.images[i].bytes, input.images[i].name);
    if (result.kind === "detection") {
      pngs.push(await encodeRgbPng(drawBoxes(image, result.objects[i])));
    } else if (result.task === "background-removal") {
      pngs.push(await encodeRgbPng(image, result.segments[i][0]?.mask));
    } else {
      pngs.push(await encodeRgbPng(tintSegments(image, result.segments[i])));
    }
  }
  return pngs;
}
