/**
 * Image decoding and pre-processing on tiny images whose every value is computed by hand: formats and
 * colour types, EXIF orientation, Pillow's resampling, center crop, rescale/normalize, NCHW and NHWC,
 * and bad input (each an InputError, exit 2, naming the file).
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { InputError } from "../src/errors.ts";
import { applyOrientation, decodeImage, type RgbImage } from "../src/processing/image_decode.ts";
import { readImageHeader } from "../src/processing/image_header.ts";
import { resizeGrey, resizeImage } from "../src/processing/image_resize.ts";
import {
  centerCrop,
  imageSpecFromGpuxConfig,
  imageSpecFromProcessorConfig,
  imagesToTensor,
  layoutFromShape,
  resizeAndCrop,
  shortestEdgeSize,
} from "../src/processing/image_preprocess.ts";
import { encodeJpeg, encodePng, encodeWebp, photoLike, rgbPng, withJpegOrientation } from "./support/image_fixtures.ts";

const DECODERS = ["native", "wasm"] as const;

/** 3×2 image, pixel (x, y) = [10x + y, 100 + 10x + y, 200 + 10x + y]. */
function tiny(): RgbImage {
  const width = 3, height = 2;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([10 * x + y, 100 + 10 * x + y, 200 + 10 * x + y], (y * width + x) * 3);
  }
  return { width, height, data };
}

/** The red channel as rows of the image (red = 10x + y identifies the source pixel). */
function reds(image: RgbImage): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y < image.height; y++) {
    rows.push(Array.from({ length: image.width }, (_, x) => image.data[(y * image.width + x) * 3]));
  }
  return rows;
}

Deno.test("all eight EXIF orientations turn the stored pixels as PIL's exif_transpose does", () => {
  const img = tiny(); // stored: [[0, 10, 20], [1, 11, 21]]
  const expected: Record<number, number[][]> = {
    1: [[0, 10, 20], [1, 11, 21]],
    2: [[20, 10, 0], [21, 11, 1]], // mirrored
    3: [[21, 11, 1], [20, 10, 0]], // rotated 180°
    4: [[1, 11, 21], [0, 10, 20]], // flipped
    5: [[0, 1], [10, 11], [20, 21]], // transposed
    6: [[1, 0], [11, 10], [21, 20]], // rotated 90° clockwise
    7: [[21, 20], [11, 10], [1, 0]], // transverse
    8: [[20, 21], [10, 11], [0, 1]], // rotated 90° counter-clockwise
  };
  for (const [o, rows] of Object.entries(expected)) {
    assert.deepEqual(reds(applyOrientation(img, Number(o))), rows, `orientation ${o}`);
  }
});

for (const decoder of DECODERS) {
  Deno.test(`${decoder}: PNG RGB decodes to the exact pixels, and its eXIf orientation is applied`, async () => {
    const img = tiny();
    const plain = await decodeImage(await rgbPng(img), "tiny.png", { decoder });
    assert.equal(plain.format, "png");
    assert.equal(plain.decoder, decoder);
    assert.deepEqual(plain.data, img.data);
    const rotated = await decodeImage(await rgbPng(img, 6), "tiny6.png", { decoder });
    assert.equal(rotated.orientation, 6);
    assert.deepEqual(reds(rotated), [[1, 0], [11, 10], [21, 20]]);
  });

  Deno.test(`${decoder}: PNG grey, grey+alpha, RGBA, 16-bit and palette with transparency become RGB (alpha dropped)`, async () => {
    const grey = await decodeImage(await encodePng(2, 1, Uint8Array.of(7, 250), { color: "grey" }), "g.png", {
      decoder,
    });
    assert.deepEqual(Array.from(grey.data), [7, 7, 7, 250, 250, 250]);
    const greyAlpha = await decodeImage(
      await encodePng(2, 1, Uint8Array.of(7, 0, 250, 128), { color: "grey-alpha" }),
      "ga.png",
      { decoder },
    );
    assert.deepEqual(Array.from(greyAlpha.data), [7, 7, 7, 250, 250, 250]);
    const rgba = await decodeImage(
      await encodePng(2, 1, Uint8Array.of(1, 2, 3, 0, 4, 5, 6, 255), { color: "rgba" }),
      "rgba.png",
      { decoder },
    );
    assert.deepEqual(Array.from(rgba.data), [1, 2, 3, 4, 5, 6]);
    const palette = await decodeImage(
      await encodePng(3, 1, Uint8Array.of(2, 0, 1), {
        color: "palette",
        palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255]],
        transparency: [0, 128, 255],
      }),
      "p.png",
      { decoder },
    );
    assert.deepEqual(Array.from(palette.data), [0, 0, 255, 255, 0, 0, 0, 255, 0]);
    // 16-bit samples: the high byte is the 8-bit value (0x1234 → 0x12).
    const deep = await decodeImage(
      await encodePng(1, 1, Uint8Array.of(0x12, 0x34, 0x80, 0x00, 0xff, 0xff), { color: "rgb", bitDepth: 16 }),
      "16.png",
      { decoder },
    );
    assert.deepEqual(Array.from(deep.data), [0x12, 0x80, 0xff]);
  });

  Deno.test(`${decoder}: lossless WebP decodes to the exact pixels, with its EXIF orientation applied`, async () => {
    const img = photoLike(17, 9);
    const webp = await decodeImage(await encodeWebp(img), "a.webp", { decoder });
    assert.equal(webp.format, "webp");
    assert.deepEqual([webp.width, webp.height], [17, 9]);
    assert.deepEqual(webp.data, img.data);
    const rotated = await decodeImage(await encodeWebp(img, true, 8), "a8.webp", { decoder });
    assert.deepEqual([rotated.width, rotated.height, rotated.orientation], [9, 17, 8]);
    assert.deepEqual(rotated.data, applyOrientation(img, 8).data);
  });

  Deno.test(`${decoder}: JPEG with EXIF orientation 6 comes out portrait`, async () => {
    const jpeg = withJpegOrientation(await encodeJpeg(photoLike(40, 30), 95), 6);
    const image = await decodeImage(jpeg, "p.jpg", { decoder });
    assert.deepEqual([image.width, image.height, image.orientation, image.format], [30, 40, 6, "jpeg"]);
  });
}

Deno.test("native and wasm decoders give the same JPEG pixels (both libjpeg-turbo derived, same IDCT)", async () => {
  const jpeg = await encodeJpeg(photoLike(96, 64), 85);
  const a = await decodeImage(jpeg, "x.jpg", { decoder: "native" });
  const b = await decodeImage(jpeg, "x.jpg", { decoder: "wasm" });
  assert.deepEqual(a.data, b.data);
  const lossy = await decodeImage(jpeg, "x.jpg");
  assert.equal(lossy.decoder, "native", "auto picks native where sharp loads");
});

async function rejects(bytes: Uint8Array, name: string, pattern: RegExp, maxPixels?: number) {
  for (const decoder of DECODERS) {
    await assert.rejects(decodeImage(bytes, name, { decoder, maxPixels }), (e: unknown) => {
      assert.ok(e instanceof InputError, `${decoder}: ${e}`);
      assert.equal(e.exitCode, 2);
      assert.ok(e.message.startsWith(`${name}: `), e.message);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    });
  }
}

Deno.test("bad images are InputErrors naming the file: empty, not an image, truncated PNG/JPEG/WebP, corrupt data", async () => {
  await rejects(new Uint8Array(), "empty.png", /not a PNG, JPEG or WebP image/);
  await rejects(new TextEncoder().encode("hello, I am text"), "notes.jpg", /not a PNG, JPEG or WebP image/);
  const png = await rgbPng(photoLike(20, 20));
  await rejects(png.subarray(0, png.length - 30), "cut.png", /truncated/);
  const jpeg = await encodeJpeg(photoLike(64, 64));
  await rejects(jpeg.subarray(0, jpeg.length >> 1), "cut.jpg", /truncated/);
  const webp = await encodeWebp(photoLike(20, 20));
  await rejects(webp.subarray(0, webp.length - 10), "cut.webp", /truncated/);
  // A PNG whose IDAT is garbage (but complete chunks): the decoder's own error, as an InputError.
  const garbage = await encodePng(4, 4, new Uint8Array(48), { color: "rgb" });
  const idat = new TextDecoder("latin1").decode(garbage).indexOf("IDAT");
  garbage.fill(0x55, idat + 4, idat + 12);
  await rejects(garbage, "garbage.png", /cannot decode this PNG image/);
});

Deno.test("a decompression bomb is refused from its header, before any pixel is decoded", async () => {
  // A valid-looking PNG header declaring 100,000 × 100,000 pixels, with a tiny (wrong) body.
  const bomb = await encodePng(1, 1, Uint8Array.of(0, 0, 0), { color: "rgb" });
  new DataView(bomb.buffer).setUint32(16, 100_000);
  new DataView(bomb.buffer).setUint32(20, 100_000);
  assert.throws(() => readImageHeader(bomb, "bomb.png"), /bomb\.png: 100000×100000 pixels is more than the limit/);
  await rejects(bomb, "bomb.png", /more than the limit of 89,478,485/);
  await rejects(await rgbPng(photoLike(20, 20)), "small-limit.png", /400 pixels|20×20 pixels/, 100);
});

Deno.test("bilinear upscale 2→4 matches Pillow's values; nearest picks Pillow's pixels", () => {
  const img: RgbImage = { width: 2, height: 1, data: Uint8Array.of(0, 0, 0, 255, 255, 255) };
  // Pillow: centres at 0.25, 0.75, 1.25, 1.75 → weights (1), (.75,.25), (.25,.75), (1) → 0, 63.75, 191.25, 255.
  assert.deepEqual(Array.from(resizeImage(img, 4, 1, "bilinear").data.filter((_, i) => i % 3 === 0)), [
    0,
    64,
    191,
    255,
  ]);
  assert.deepEqual(Array.from(resizeImage(img, 4, 1, "nearest").data.filter((_, i) => i % 3 === 0)), [0, 0, 255, 255]);
  // Downscale 4→2 with bilinear: support widens to 2; output 0 (centre 1) takes sources 0..2 with weights
  // (.75, .75, .25)/1.75 → 255·.25/1.75 = 36.4 → 36; output 1 (centre 3) takes 1..3 with (.25, .75, .75)/1.75
  // → 255·1.5/1.75 = 218.6 → 219 (Pillow clips the edge taps instead of mirroring).
  const four: RgbImage = { width: 4, height: 1, data: Uint8Array.of(0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255) };
  assert.deepEqual(Array.from(resizeImage(four, 2, 1, "bilinear").data.filter((_, i) => i % 3 === 0)), [36, 219]);
});

Deno.test("resizeGrey gives each channel of resizeImage (one channel, same coefficients and rounding)", () => {
  const image = photoLike(37, 29, 5);
  const cases: [number, number, "bilinear" | "bicubic" | "lanczos" | "box" | "hamming"][] = [
    [160, 120, "bilinear"],
    [8, 6, "bilinear"],
    [37, 11, "bicubic"],
    [13, 29, "lanczos"],
    [50, 7, "box"],
    [9, 64, "hamming"],
    [37, 29, "bilinear"],
  ];
  for (const [width, height, filter] of cases) {
    const rgb = resizeImage(image, width, height, filter).data;
    for (let c = 0; c < 3; c++) {
      const plane = image.data.filter((_, i) => i % 3 === c);
      const grey = resizeGrey(plane, image.width, image.height, width, height, filter);
      assert.deepEqual(Array.from(grey), Array.from(rgb.filter((_, i) => i % 3 === c)), `${width}×${height} ${filter}`);
    }
  }
});

Deno.test("shortest-edge sizes truncate the long edge as transformers does; center crop takes (size - crop) // 2", () => {
  assert.deepEqual(shortestEdgeSize(640, 480, 224), { width: 298, height: 224 });
  assert.deepEqual(shortestEdgeSize(480, 640, 224), { width: 224, height: 298 });
  assert.deepEqual(shortestEdgeSize(1000, 100, 50, 200), { width: 200, height: 20 });
  const img = tiny(); // 3×2 → crop 2×1: left = (3-2)//2 = 0, top = (2-1)//2 = 0
  assert.deepEqual(reds(centerCrop(img, 2, 1)), [[0, 10]]);
  assert.deepEqual(reds(centerCrop(img, 1, 1)), [[10]]); // left = 1
  assert.deepEqual(reds(centerCrop(img, 3, 4)), [[0, 0, 0], [0, 10, 20], [1, 11, 21], [0, 0, 0]]); // top = -1: padded
});

Deno.test("center crop larger than the image pads with zeros exactly where transformers' center_crop puts them", () => {
  // Expected values printed by transformers.image_transforms.center_crop on the same 5×3 image (pixel i+1).
  const data = new Uint8Array(5 * 3 * 3);
  for (let i = 0; i < 15; i++) data.fill(i + 1, i * 3, i * 3 + 3);
  const img: RgbImage = { width: 5, height: 3, data };
  assert.deepEqual(reds(centerCrop(img, 4, 6)), [[0, 0, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4], [6, 7, 8, 9], [
    11,
    12,
    13,
    14,
  ], [
    0,
    0,
    0,
    0,
  ]]);
  assert.deepEqual(reds(centerCrop(img, 2, 2)), [[2, 3], [7, 8]]);
  assert.deepEqual(reds(centerCrop(img, 8, 3)), [[0, 0, 1, 2, 3, 4, 5, 0], [0, 0, 6, 7, 8, 9, 10, 0], [
    0,
    0,
    11,
    12,
    13,
    14,
    15,
    0,
  ]]);
});

Deno.test("rescale and normalize: every value hand-computed, in NCHW and in NHWC", () => {
  const img: RgbImage = { width: 2, height: 1, data: Uint8Array.of(0, 51, 255, 102, 204, 153) };
  const spec = imageSpecFromProcessorConfig({
    do_resize: false,
    rescale_factor: 1 / 255,
    image_mean: [0.5, 0.2, 0],
    image_std: [0.5, 0.1, 2],
  });
  // (v/255 - mean) / std per channel: R 0→-1, 102→-0.2; G 51→0, 204→6; B 255→0.5, 153→0.3.
  const f = Math.fround;
  const r = [f(f(f(0) - f(0.5)) / f(0.5)), f(f(f(102 / 255) - f(0.5)) / f(0.5))];
  const g = [f(f(f(51 / 255) - f(0.2)) / f(0.1)), f(f(f(204 / 255) - f(0.2)) / f(0.1))];
  const b = [f(f(f(1) - f(0)) / f(2)), f(f(f(153 / 255) - f(0)) / f(2))];
  assert.deepEqual(r.map((v) => Math.round(v * 1e6) / 1e6), [-1, -0.2]);
  assert.deepEqual(g.map((v) => Math.round(v * 1e5) / 1e5), [0, 6]);
  assert.deepEqual(b.map((v) => Math.round(v * 1e6) / 1e6), [0.5, 0.3]);
  const nchw = imagesToTensor([img], spec, "nchw");
  assert.deepEqual(nchw.shape, [1, 3, 1, 2]);
  assert.deepEqual(Array.from(nchw.data as Float32Array), [...r, ...g, ...b]);
  const nhwc = imagesToTensor([img, img], spec, "nhwc");
  assert.deepEqual(nhwc.shape, [2, 1, 2, 3]);
  const pixel = [r[0], g[0], b[0], r[1], g[1], b[1]];
  assert.deepEqual(Array.from(nhwc.data as Float32Array), [...pixel, ...pixel]);
});

Deno.test("preprocessor_config.json and gpux.yml preprocessing become the same steps transformers would run", () => {
  const vit = imageSpecFromProcessorConfig({ size: 224, resample: 2 });
  assert.deepEqual(vit.resize, { width: 224, height: 224 }, "a bare size without a crop is a square (ViT)");
  const clip = imageSpecFromProcessorConfig({ size: 224, crop_size: 224, resample: 3 });
  assert.deepEqual([clip.resize, clip.crop, clip.resample], [
    { shortestEdge: 224 },
    { width: 224, height: 224 },
    "bicubic",
  ]);
  const convnext = imageSpecFromProcessorConfig({ size: { shortest_edge: 224 }, crop_pct: 0.875 });
  assert.deepEqual([convnext.resize, convnext.crop], [{ shortestEdge: 256 }, { width: 224, height: 224 }]);
  assert.equal(imageSpecFromProcessorConfig({ do_normalize: false, do_rescale: false }).normalize, undefined);
  assert.throws(() => imageSpecFromProcessorConfig({ resample: 9 }), /resample 9 is not a Pillow filter/);
  assert.equal(imageSpecFromProcessorConfig({ resample: "BICUBIC" }).resample, "bicubic");
  assert.throws(() => imageSpecFromProcessorConfig({ image_mean: [1, 2] }), /image_mean must have 1 or 3 values/);

  const yml = imageSpecFromGpuxConfig({ resize: 256, crop: [224, 200], normalize: "imagenet", layout: "nhwc" });
  assert.deepEqual([yml.resize, yml.crop, yml.layout, yml.rescale], [
    { shortestEdge: 256 },
    { width: 224, height: 200 },
    "nhwc",
    1 / 255,
  ]);
  assert.deepEqual(yml.normalize?.std, [0.229, 0.224, 0.225]);
  const img = resizeAndCrop(photoLike(300, 400), yml);
  assert.deepEqual([img.width, img.height], [224, 200]);
});

Deno.test("the layout follows the model's declared input shape", () => {
  assert.equal(layoutFromShape(["batch", 3, 224, 224]), "nchw");
  assert.equal(layoutFromShape([1, 224, 224, 3]), "nhwc");
  assert.equal(layoutFromShape(["batch", null, null, null]), "nchw");
  assert.equal(layoutFromShape([1, 3, 3, 3]), "nchw");
});

Deno.test("where the native decoder cannot load (no FFI permission, as in a compiled binary without libvips), auto falls back to wasm; asking for native is a ProviderError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gpux-decoder-" });
  try {
    await Deno.writeFile(`${dir}/photo.jpg`, await encodeJpeg(photoLike(30, 20)));
    const module = new URL("../src/processing/image_decode.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      `import { decodeImage } from ${JSON.stringify(module)};
const bytes = await Deno.readFile(Deno.args[0]);
const image = await decodeImage(bytes, "photo.jpg");
let native = "loaded";
try { await decodeImage(bytes, "photo.jpg", { decoder: "native" }); } catch (e) { native = e.name + " " + e.exitCode; }
console.log(JSON.stringify({ decoder: image.decoder, width: image.width, native }));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        "--allow-read",
        "--allow-env",
        "--deny-ffi",
        `${dir}/probe.ts`,
        `${dir}/photo.jpg`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      decoder: "wasm",
      width: 30,
      native: "ProviderError 7",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("progressive JPEG, greyscale JPEG and interlaced PNG decode alike on both decoders; a CMYK JPEG needs the native one", async () => {
  const p = photoLike(40, 30);
  const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
  const files = {
    "progressive.jpg": new Uint8Array(await sharp(p.data, raw).jpeg({ progressive: true }).toBuffer()),
    "grey.jpg": new Uint8Array(await sharp(p.data, raw).greyscale().jpeg().toBuffer()),
    "interlaced.png": new Uint8Array(await sharp(p.data, raw).png({ progressive: true }).toBuffer()),
  };
  for (const [name, bytes] of Object.entries(files)) {
    const a = await decodeImage(bytes, name, { decoder: "native" });
    const b = await decodeImage(bytes, name, { decoder: "wasm" });
    assert.deepEqual([a.width, a.height], [40, 30], name);
    assert.deepEqual(a.data, b.data, name);
  }
  const grey = await decodeImage(files["grey.jpg"], "grey.jpg", { decoder: "wasm" });
  assert.ok(grey.data.every((v, i) => v === grey.data[i - (i % 3)]), "grey becomes R = G = B");
  assert.deepEqual(Array.from((await decodeImage(files["interlaced.png"], "i.png")).data), Array.from(p.data));

  const cmyk = new Uint8Array(await sharp(p.data, raw).toColourspace("cmyk").jpeg().toBuffer());
  const native = await decodeImage(cmyk, "cmyk.jpg", { decoder: "native" });
  assert.deepEqual([native.width, native.height, native.data.length], [40, 30, 3600]);
  await assert.rejects(
    decodeImage(cmyk, "cmyk.jpg", { decoder: "wasm" }),
    (e: unknown) => e instanceof InputError && /^cmyk\.jpg: a CMYK JPEG, which the wasm decoder cannot/.test(e.message),
  );
});

Deno.test("an embedded ICC profile (Display P3, as phone photos carry) is ignored, as Pillow ignores it: both decoders give the stored pixels", async () => {
  // (sharp's encoder converts to P3 while writing, so the stored pixels are not photoLike's; checked once
  // against Pillow by hand: 0 difference for the JPEG.)
  const p = photoLike(40, 30);
  const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
  for (const format of ["jpeg", "png", "webp"] as const) {
    const tagged = sharp(p.data, raw).withIccProfile("p3");
    const bytes = new Uint8Array(
      await (format === "jpeg"
        ? tagged.jpeg({ quality: 95 })
        : format === "png"
        ? tagged.png()
        : tagged.webp({ lossless: true }))
        .toBuffer(),
    );
    const native = await decodeImage(bytes, `p3.${format}`, { decoder: "native" });
    const wasm = await decodeImage(bytes, `p3.${format}`, { decoder: "wasm" });
    assert.deepEqual(native.data, wasm.data, format);
  }
});
