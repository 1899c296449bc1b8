/**
 * The input and processor configs behind tests/goldens/image_processors.json (written by
 * scripts/image_golden.ts with Python transformers): one 640×480 photo-like JPEG, stored rotated by an
 * EXIF orientation of 6 (so the processors see it 480×640), and configs covering fixed-size resize
 * (ViT, bilinear), shortest edge + center crop (CLIP, bicubic), ConvNeXT's crop_pct, and the lanczos,
 * nearest, box and hamming filters.
 *
 * @module
 */
import { encodeJpeg, photoLike, withJpegOrientation } from "./image_fixtures.ts";

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** Processor class (Python) and preprocessor_config.json content, per case. */
export const GOLDEN_CASES: Record<string, { class: string; config: Record<string, unknown>; samples: number }> = {
  vit_bilinear: {
    class: "vit",
    config: {
      do_resize: true,
      size: { height: 224, width: 224 },
      resample: 2,
      do_rescale: true,
      rescale_factor: 0.00392156862745098,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    },
    samples: 128,
  },
  clip_bicubic_crop: {
    class: "clip",
    config: {
      do_resize: true,
      size: { shortest_edge: 224 },
      resample: 3,
      do_center_crop: true,
      crop_size: { height: 224, width: 224 },
      do_rescale: true,
      rescale_factor: 0.00392156862745098,
      do_normalize: true,
      image_mean: CLIP_MEAN,
      image_std: CLIP_STD,
      do_convert_rgb: true,
    },
    samples: 128,
  },
  convnext_crop_pct: {
    class: "convnext",
    config: {
      do_resize: true,
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      resample: 3,
      do_rescale: true,
      rescale_factor: 0.00392156862745098,
      do_normalize: true,
      image_mean: [0.485, 0.456, 0.406],
      image_std: [0.229, 0.224, 0.225],
    },
    samples: 128,
  },
  vit_lanczos: {
    class: "vit",
    config: { size: { height: 150, width: 100 }, resample: 1, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
    samples: 96,
  },
  vit_nearest: {
    class: "vit",
    config: { size: { height: 97, width: 61 }, resample: 0, do_normalize: false },
    samples: 96,
  },
  vit_box_upscale: {
    class: "vit",
    config: { size: { height: 700, width: 500 }, resample: 4, do_normalize: false },
    samples: 96,
  },
  vit_hamming: {
    class: "vit",
    config: { size: { height: 64, width: 64 }, resample: 5, do_normalize: false },
    samples: 96,
  },
};

/** The golden JPEG: 640×480, quality 90, EXIF orientation 6. */
export async function goldenJpeg(): Promise<Uint8Array> {
  return withJpegOrientation(await encodeJpeg(photoLike(640, 480, 7), 90), 6);
}
