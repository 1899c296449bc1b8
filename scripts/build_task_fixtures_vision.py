"""Tiny random vision models for gpux's object-detection (DETR, YOLOS, RT-DETR), zero-shot-object-detection
(OWL-ViT with a tiny CLIP BPE vocabulary), image-segmentation (DETR-panoptic, SegFormer) and depth-estimation (DPT,
Depth Anything) pipelines, exported to ONNX, with their real preprocessor configs, a rendered scene (coloured shapes
drawn with Pillow, also at the models' own input sizes), and the answers of Python transformers' own `pipeline()` on
the same weights (the goldens).

Called by tests/support/vision_fixtures.ts as `python build_task_fixtures_vision.py OUT_DIR`; writes OUT_DIR/
scene*.png, one folder per model (model.onnx, config.json, preprocessor_config.json, and the tokenizer for OWL-ViT,
as a Hub repository would), goldens.json (everything the tests compare) and summary.json (labels, scores, boxes and
mask hashes, committed as tests/goldens/vision_tasks.json). Seeds are fixed, so the same versions give the same
files. Prints nothing on success but the goldens' path.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw
import transformers
from transformers import pipeline

torch.manual_seed(0)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def scene() -> Image.Image:
    """A 160x120 picture: a red box, a blue disc, a green triangle and a yellow bar on a grey-blue gradient."""
    image = Image.new("RGB", (160, 120))
    pixels = image.load()
    for y in range(120):
        for x in range(160):
            pixels[x, y] = (90 + x // 4, 110 + y // 4, 140)
    draw = ImageDraw.Draw(image)
    draw.rectangle([12, 14, 62, 58], fill=(220, 30, 40))
    draw.ellipse([88, 20, 142, 74], fill=(30, 60, 210))
    draw.polygon([(30, 110), (70, 70), (100, 110)], fill=(40, 190, 60))
    draw.rectangle([112, 88, 152, 100], fill=(240, 220, 40))
    return image


def export(model, example: torch.Tensor, folder: str, outputs: list[str], dynamic: bool = False) -> None:
    model.eval()
    path = os.path.join(folder, "model.onnx")

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            result = self.inner(pixel_values=pixel_values)
            return tuple(result[name] for name in outputs)

    torch.onnx.export(
        Wrapper(model),
        (example,),
        path,
        input_names=["pixel_values"],
        output_names=outputs,
        dynamo=False,
        opset_version=17,
        dynamic_axes={"pixel_values": {0: "batch", 2: "height", 3: "width"}} if dynamic else None,
    )
    model.eval()  # the exporter restores the wrapper's (training) mode on everything under it


def save(model, processor, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.to_json_file(os.path.join(folder, "config.json"))
    processor.to_json_file(os.path.join(folder, "preprocessor_config.json"))


def pixel_example(processor, image) -> torch.Tensor:
    return processor(images=image, return_tensors="pt")["pixel_values"]


image = scene()
image.save(os.path.join(OUT, "scene.png"))
# the scene at the models' own input sizes (no resampling), where transformers.js's resize (sharp) cannot differ
for width, height in [(96, 64), (64, 64), (32, 32)]:
    image.resize((width, height), Image.BILINEAR).save(os.path.join(OUT, f"scene{width}x{height}.png"))
goldens: dict = {"transformers": transformers.__version__, "torch": torch.__version__, "image": list(image.size)}

# ---- object detection: DETR with a small ResNet backbone (no timm) ------------------------------------
from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessorPil, ResNetConfig

labels = {0: "box", 1: "disc", 2: "triangle", 3: "bar"}
detr_config = DetrConfig(
    use_timm_backbone=False,
    use_pretrained_backbone=False,
    backbone_config=ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", out_features=["stage2"]
    ),
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    num_queries=12,
    id2label=labels,
    label2id={v: k for k, v in labels.items()},
    auxiliary_loss=False,
    init_std=0.3,  # at the default 0.02 every query decodes to the same box
)
detr = DetrForObjectDetection(detr_config).eval()
with torch.no_grad():
    # wider class logits, and a "no object" class that rarely wins, so several queries clear the threshold
    detr.class_labels_classifier.weight.mul_(2.0)
    detr.class_labels_classifier.bias[-1] = -4.0
detr_processor = DetrImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96})
folder = os.path.join(OUT, "detr")
save(detr, detr_processor, folder)
export(detr, pixel_example(detr_processor, image), folder, ["logits", "pred_boxes"], dynamic=True)
detector = pipeline("object-detection", model=detr, image_processor=detr_processor)
threshold = 0.3
answer = detector(image, threshold=threshold)
with torch.no_grad():
    raw = detr(**detr_processor(images=image, return_tensors="pt"))
post = detr_processor.post_process_object_detection(raw, threshold=threshold, target_sizes=[image.size[::-1]])[0]
goldens["detr"] = {
    "threshold": threshold,
    "pipeline": answer,
    "boxes": post["boxes"].tolist(),
    "scores": post["scores"].tolist(),
    "labels": [labels[i] for i in post["labels"].tolist()],
}

# ---- object detection: YOLOS (edges down to multiples of 16) ----------------------------------------------
from transformers import YolosConfig, YolosForObjectDetection
from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil

torch.manual_seed(3)
yolos_config = YolosConfig(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=37,
    image_size=[64, 96],
    patch_size=16,
    num_detection_tokens=10,
    id2label=labels,
    label2id={v: k for k, v in labels.items()},
    initializer_range=0.3,
)
yolos = YolosForObjectDetection(yolos_config).eval()
with torch.no_grad():
    yolos.class_labels_classifier.layers[-1].bias[-1] = -4.0
yolos_processor = YolosImageProcessorPil(size={"shortest_edge": 56, "longest_edge": 100})
folder = os.path.join(OUT, "yolos")
save(yolos, yolos_processor, folder)
export(yolos, pixel_example(yolos_processor, image), folder, ["logits", "pred_boxes"])
yolos_answer = pipeline("object-detection", model=yolos, image_processor=yolos_processor)(image, threshold=0.3)
with torch.no_grad():
    raw = yolos(pixel_values=pixel_example(yolos_processor, image))
post = yolos_processor.post_process_object_detection(raw, threshold=0.3, target_sizes=[image.size[::-1]])[0]
goldens["yolos"] = {
    "pixel_values_shape": list(pixel_example(yolos_processor, image).shape),
    "pipeline": yolos_answer,
    "boxes": post["boxes"].tolist(),
}

# ---- object detection: RT-DETR (sigmoid scores, top-k over queries x classes) ------------------------------
from types import SimpleNamespace

import onnxruntime
from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrResNetConfig
from transformers.models.rt_detr.image_processing_pil_rt_detr import RTDetrImageProcessorPil

torch.manual_seed(0)
rtdetr_config = RTDetrConfig(
    backbone_config=RTDetrResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 32, 64],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    ),
    encoder_hidden_dim=16,
    encoder_in_channels=[16, 32, 64],
    feat_strides=[8, 16, 32],
    encoder_layers=1,
    encoder_ffn_dim=32,
    encoder_attention_heads=2,
    d_model=16,
    num_queries=10,
    decoder_in_channels=[16, 16, 16],
    decoder_ffn_dim=32,
    num_feature_levels=3,
    decoder_n_points=2,
    decoder_layers=1,
    decoder_attention_heads=2,
    num_denoising=0,
    id2label=labels,
    label2id={v: k for k, v in labels.items()},
    use_pretrained_backbone=False,
    anchor_image_size=None,
    initializer_range=0.3,  # at the default 0.01 every score is the 0.2 prior and the ranking is all ties
)
rtdetr = RTDetrForObjectDetection(rtdetr_config).eval()
rtdetr_processor = RTDetrImageProcessorPil(size={"height": 64, "width": 64})
folder = os.path.join(OUT, "rtdetr")
save(rtdetr, rtdetr_processor, folder)
rt_pixels = pixel_example(rtdetr_processor, image)
export(rtdetr, rt_pixels, folder, ["logits", "pred_boxes"])
# the exported graph's deformable attention differs from PyTorch's by ~1e-3 in the logits: post-process what
# onnxruntime answers, so the golden checks gpux's post-processing alone
rt_logits, rt_boxes = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx")).run(
    None, {"pixel_values": rt_pixels.numpy()}
)
rt_post = rtdetr_processor.post_process_object_detection(
    SimpleNamespace(logits=torch.from_numpy(rt_logits), pred_boxes=torch.from_numpy(rt_boxes)),
    threshold=0.3,
    target_sizes=[image.size[::-1]],
)[0]
goldens["rtdetr"] = {
    "threshold": 0.3,
    "scores": rt_post["scores"].tolist(),
    "labels": [labels[i] for i in rt_post["labels"].tolist()],
    "boxes": rt_post["boxes"].tolist(),
    "pipeline": pipeline("object-detection", model=rtdetr, image_processor=rtdetr_processor)(image, threshold=0.3),
}

# ---- panoptic segmentation: DETR with its mask head -------------------------------------------------------
from transformers import DetrForSegmentation

panoptic_config = DetrConfig(
    use_timm_backbone=False,
    use_pretrained_backbone=False,
    backbone_config=ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 32, 64],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage1", "stage2", "stage3", "stage4"],
    ),
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=8,  # the mask head needs d_model + heads divisible by 8
    decoder_attention_heads=8,
    encoder_ffn_dim=32,
    decoder_ffn_dim=32,
    num_queries=12,
    id2label=labels,
    label2id={v: k for k, v in labels.items()},
    auxiliary_loss=False,
    init_std=0.3,
)
torch.manual_seed(10)  # a seed whose random masks give two segments above the pipeline's 0.9
panoptic = DetrForSegmentation(panoptic_config).eval()
with torch.no_grad():
    # random masks are alike for every query; these make two queries win regions of their own
    panoptic.detr.class_labels_classifier.bias[-1] = -4.0
    panoptic.detr.class_labels_classifier.bias[:-1] = 0.0
    panoptic.detr.model.query_position_embeddings.weight.mul_(10.0)
    panoptic.mask_head.conv1.conv.weight[:, 32:] *= 300.0
    panoptic.mask_head.output_conv.bias.fill_(0.0)
    panoptic.bbox_attention.q_proj.weight.mul_(10.0)
folder = os.path.join(OUT, "detr-panoptic")
save(panoptic, detr_processor, folder)
export(panoptic, pixel_example(detr_processor, image), folder, ["logits", "pred_boxes", "pred_masks"], dynamic=True)
panoptic_answer = pipeline("image-segmentation", model=panoptic, image_processor=detr_processor)(image)
goldens["detr_panoptic"] = [
    {"label": s["label"], "score": s["score"], "mask": np.asarray(s["mask"]).astype(np.uint8).flatten().tolist()}
    for s in panoptic_answer
]

# ---- semantic segmentation: SegFormer -------------------------------------------------------------------
from transformers import SegformerConfig, SegformerForSemanticSegmentation

# imported from its module: the package's lazy name asks for torchvision, which the PIL backend does not use
from transformers.models.segformer.image_processing_pil_segformer import SegformerImageProcessorPil

seg_labels = {0: "background", 1: "red", 2: "blue", 3: "green"}
seg_config = SegformerConfig(
    num_encoder_blocks=2,
    depths=[1, 1],
    sr_ratios=[2, 1],
    hidden_sizes=[8, 16],
    patch_sizes=[7, 3],
    strides=[4, 2],
    num_attention_heads=[1, 2],
    mlp_ratios=[2, 2],
    decoder_hidden_size=16,
    id2label=seg_labels,
    label2id={v: k for k, v in seg_labels.items()},
)
segformer = SegformerForSemanticSegmentation(seg_config).eval()
with torch.no_grad():
    segformer.decode_head.classifier.weight.mul_(6.0)
seg_processor = SegformerImageProcessorPil(size={"height": 64, "width": 64})
folder = os.path.join(OUT, "segformer")
save(segformer, seg_processor, folder)
export(segformer, pixel_example(seg_processor, image), folder, ["logits"])
segmenter = pipeline("image-segmentation", model=segformer, image_processor=seg_processor)
segments = segmenter(image)
goldens["segformer"] = [
    {"label": s["label"], "score": s["score"], "mask": np.asarray(s["mask"]).astype(np.uint8).flatten().tolist()}
    for s in segments
]

# ---- depth estimation: DPT ------------------------------------------------------------------------------
from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessorPil

dpt_config = DPTConfig(
    image_size=32,
    patch_size=8,
    hidden_size=32,
    num_hidden_layers=4,
    backbone_out_indices=[0, 1, 2, 3],
    num_attention_heads=4,
    intermediate_size=37,
    neck_hidden_sizes=[8, 16, 16, 32],
    fusion_hidden_size=16,
    head_in_index=-1,
)
dpt = DPTForDepthEstimation(dpt_config).eval()
with torch.no_grad():
    for layer in dpt.head.head:
        if isinstance(layer, torch.nn.Conv2d):
            layer.weight.mul_(4.0)
            layer.bias.fill_(0.05)
dpt_processor = DPTImageProcessorPil(size={"height": 64, "width": 64}, keep_aspect_ratio=False, ensure_multiple_of=1)
folder = os.path.join(OUT, "dpt")
save(dpt, dpt_processor, folder)
export(dpt, pixel_example(dpt_processor, image), folder, ["predicted_depth"])
estimator = pipeline("depth-estimation", model=dpt, image_processor=dpt_processor)
depth = estimator(image)
goldens["dpt"] = {
    "predicted_depth_shape": list(depth["predicted_depth"].shape),
    "predicted_depth": depth["predicted_depth"].flatten().tolist(),
    "depth": np.asarray(depth["depth"]).astype(np.uint8).flatten().tolist(),
}

# ---- depth estimation: Depth Anything (DINOv2 backbone), aspect kept, edges multiples of 14 --------------
from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

anything_config = DepthAnythingConfig(
    backbone_config=Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        mlp_ratio=2,
        image_size=28,
        patch_size=14,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    ),
    reassemble_hidden_size=32,
    neck_hidden_sizes=[8, 16, 32, 32],
    fusion_hidden_size=16,
    head_hidden_size=8,
)
anything = DepthAnythingForDepthEstimation(anything_config).eval()
anything_processor = DPTImageProcessorPil(
    size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3
)
folder = os.path.join(OUT, "depth-anything")
save(anything, anything_processor, folder)
export(anything, pixel_example(anything_processor, image), folder, ["predicted_depth"])
depth = pipeline("depth-estimation", model=anything, image_processor=anything_processor)(image)
goldens["depth_anything"] = {
    "pixel_values_shape": list(pixel_example(anything_processor, image).shape),
    "predicted_depth_shape": list(depth["predicted_depth"].shape),
    "predicted_depth": depth["predicted_depth"].flatten().tolist(),
    "depth": np.asarray(depth["depth"]).astype(np.uint8).flatten().tolist(),
}

# ---- zero-shot object detection: OWL-ViT with a tiny CLIP BPE vocabulary ---------------------------------
from transformers import CLIPTokenizer, OwlViTConfig, OwlViTForObjectDetection
from transformers.models.owlvit.image_processing_pil_owlvit import OwlViTImageProcessorPil


def bytes_to_unicode() -> dict:
    """GPT-2's byte-to-character table (CLIP's byte-level alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


chars = list(bytes_to_unicode().values())
vocab: dict = {}
for c in chars:
    vocab[c] = len(vocab)
for c in chars:
    vocab[c + "</w>"] = len(vocab)
merges = ["r e", "re d</w>", "b o", "bo x</w>", "d i", "di s", "dis c</w>", "c a", "ca t</w>"]
for m in merges:
    vocab[m.replace(" ", "")] = len(vocab)
vocab["<|startoftext|>"] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)  # the largest id: OWL-ViT pools the text at the argmax of input_ids
owl_tokenizer = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges], pad_token="!", model_max_length=16)
owl_config = OwlViTConfig(
    text_config=dict(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=16,
        eos_token_id=vocab["<|endoftext|>"],
        bos_token_id=vocab["<|startoftext|>"],
        pad_token_id=vocab["!"],
    ),
    vision_config=dict(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    ),
    projection_dim=32,
)
owl = OwlViTForObjectDetection(owl_config).eval()
with torch.no_grad():
    # boxes near each patch's own grid box and logits of moderate size: random weights saturate both
    for p in owl.box_head.parameters():
        p.mul_(0.02)
    owl.class_head.logit_scale.weight.mul_(0.0)
    owl.class_head.logit_scale.bias.fill_(-0.8)
    owl.class_head.logit_shift.weight.mul_(0.2)
    owl.class_head.logit_shift.bias.fill_(0.0)
owl_processor = OwlViTImageProcessorPil(size={"height": 32, "width": 32}, do_center_crop=False)
folder = os.path.join(OUT, "owlvit")
save(owl, owl_processor, folder)
owl_tokenizer.save_pretrained(folder)
owl_labels = ["red box", "blue disc", "cat"]
encoded = owl_tokenizer(owl_labels, padding=True, return_tensors="pt")


class OwlWrapper(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, pixel_values, attention_mask):
        result = self.inner(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
        return result.logits, result.pred_boxes


torch.onnx.export(
    OwlWrapper(owl),
    (encoded["input_ids"], pixel_example(owl_processor, image), encoded["attention_mask"]),
    os.path.join(folder, "model.onnx"),
    input_names=["input_ids", "pixel_values", "attention_mask"],
    output_names=["logits", "pred_boxes"],
    dynamic_axes={
        "input_ids": {0: "queries", 1: "sequence"},
        "attention_mask": {0: "queries", 1: "sequence"},
        "logits": {2: "queries"},
    },
    dynamo=False,
    opset_version=17,
)
owl.eval()
owl_threshold = 0.6
owl_pipeline = pipeline("zero-shot-object-detection", model=owl, tokenizer=owl_tokenizer, image_processor=owl_processor)
owl_answer = owl_pipeline(image, candidate_labels=owl_labels, threshold=owl_threshold)
owl_floats = []
for label in owl_labels:
    with torch.no_grad():
        one = owl(**owl_tokenizer([label], return_tensors="pt"), pixel_values=pixel_example(owl_processor, image))
    post = owl_processor.post_process_object_detection(one, threshold=owl_threshold, target_sizes=[image.size[::-1]])[0]
    owl_floats += [(s, label, b) for s, b in zip(post["scores"].tolist(), post["boxes"].tolist())]
owl_floats.sort(key=lambda x: -x[0])
goldens["owlvit"] = {
    "labels": owl_labels,
    "threshold": owl_threshold,
    "pipeline": owl_answer,
    "boxes": [b for _, _, b in owl_floats],
    "scores": [s for s, _, _ in owl_floats],
    "ids": owl_tokenizer(owl_labels)["input_ids"],
}

with open(os.path.join(OUT, "goldens.json"), "w") as f:
    json.dump(goldens, f)


def digest(values) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(values, dtype=np.uint8).tobytes()).hexdigest()[:16]


def objects(answer) -> list:
    return [[o["label"], round(o["score"], 5), o["box"]] for o in answer]


# the small record committed as tests/goldens/vision_tasks.json: what transformers answered, masks as hashes
summary = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "detr": objects(goldens["detr"]["pipeline"]),
    "yolos": objects(goldens["yolos"]["pipeline"]),
    "rtdetr": objects(goldens["rtdetr"]["pipeline"]),
    "owlvit": objects(goldens["owlvit"]["pipeline"]),
    "detr_panoptic": [[s["label"], round(s["score"], 5), digest(s["mask"])] for s in goldens["detr_panoptic"]],
    "segformer": [[s["label"], digest(s["mask"])] for s in goldens["segformer"]],
    "dpt": {"min": round(min(goldens["dpt"]["predicted_depth"]), 7), "picture": digest(goldens["dpt"]["depth"])},
    "depth_anything": {"picture": digest(goldens["depth_anything"]["depth"])},
}
with open(os.path.join(OUT, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(os.path.join(OUT, "goldens.json"))
