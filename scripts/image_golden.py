"""Reference tensors from Python transformers' image processors (the Pillow backend), for
tests/image_processor_golden_test.ts. Called by scripts/image_golden.ts with the JPEG it generated
and the processor configs; prints one JSON document."""
import hashlib, json, sys
import numpy as np
from PIL import Image, ImageOps
import transformers
from transformers import CLIPImageProcessor, ConvNextImageProcessor, ViTImageProcessor

CLASSES = {"vit": ViTImageProcessor, "clip": CLIPImageProcessor, "convnext": ConvNextImageProcessor}

def main():
    jpeg_path, cases_path = sys.argv[1], sys.argv[2]
    cases = json.load(open(cases_path))
    # What transformers.image_utils.load_image does: EXIF orientation applied, then RGB.
    image = ImageOps.exif_transpose(Image.open(jpeg_path)).convert("RGB")
    out = {"transformers": transformers.__version__, "pillow": Image.__version__, "image": list(image.size), "cases": {}}
    for name, case in cases.items():
        processor = CLASSES[case["class"]](**case["config"])
        values = processor(images=image, return_tensors="np")["pixel_values"].astype(np.float32)
        flat = values.reshape(-1)
        step = max(1, flat.size // case["samples"])
        out["cases"][name] = {
            "shape": list(values.shape),
            "mean": float(flat.astype(np.float64).mean()),
            "sha256": hashlib.sha256(flat.tobytes()).hexdigest(),
            "step": step,
            "samples": [float(v) for v in flat[::step][: case["samples"]]],
        }
    json.dump(out, sys.stdout, indent=1)

main()
