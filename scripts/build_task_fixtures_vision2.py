"""Tiny random models for the second round of gpux's vision tasks, apart from build_task_fixtures_vision.py so that
adding them does not rebuild those: CLIP and SigLIP with their text and vision towers as two files
(`onnx/text_model.onnx` + `onnx/vision_model.onnx`, as Xenova / onnx-community repositories ship them) beside the
merged `onnx/model.onnx` of the same weights, OWLv2 (zero-shot-object-detection: pad to a square, then
resize), Mask2Former and MaskFormer (image-segmentation: instance, panoptic and semantic) — exported to ONNX, with their real preprocessor configs, a rendered scene, and the answers of Python
transformers' own `pipeline()` on the same weights (the goldens).

Called by tests/support/vision2_fixtures.ts as `python build_task_fixtures_vision2.py OUT_DIR`; writes OUT_DIR/
scene.png, one folder per model (config.json, preprocessor_config.json, the tokenizer, model.safetensors where a
Hub repository has it, and the ONNX files), goldens.json (everything the tests compare) and summary.json (labels,
rounded scores and boxes, committed as tests/goldens/vision2_tasks.json). Seeds are fixed. Prints nothing on success
but the goldens' path.
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
    """A 160x120 picture (not square: OWLv2 pads it): coloured shapes on a grey-blue gradient."""
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


def clip_vocab(words):
    chars = list(bytes_to_unicode().values())
    vocab: dict = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    merges = []
    for w in words:
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            merged = parts[0] + parts[1]
            merges.append(f"{parts[0]} {parts[1]}")
            if merged not in vocab:
                vocab[merged] = len(vocab)
            parts = [merged] + parts[2:]
    merges = list(dict.fromkeys(merges))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)  # the largest id: CLIP and OWL pool the text at the argmax of input_ids
    return vocab, merges


def widen(model, std):
    """Random weights wide enough that scores are far apart (the default 0.02 makes every label tie)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layernorm" in name:
                continue
            p.normal_(0.0, std)
    return model


def onnx_export(module, args, path, names, outputs, dynamic):
    module.eval()
    torch.onnx.export(module, args, path, input_names=names, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=17, dynamo=False)


def features(result):
    """get_text_features / get_image_features: a tensor, or (transformers 5) an output whose pooler_output it is."""
    return result if isinstance(result, torch.Tensor) else result.pooler_output


image = scene()
image.save(os.path.join(OUT, "scene.png"))
goldens: dict = {"transformers": transformers.__version__, "torch": torch.__version__, "image": list(image.size)}
labels = ["red square", "blue circle", "cat", "dog"]

# ---- zero-shot-image-classification: CLIP and SigLIP, merged graph and two towers ------------------------
from transformers import (
    BertTokenizerFast,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPTokenizer,
    SiglipConfig,
    SiglipImageProcessor,
    SiglipModel,
)


class Merged(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, pixel_values, attention_mask):
        o = self.m(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
        return o.logits_per_image, o.logits_per_text, o.text_embeds, o.image_embeds


class TextTower(torch.nn.Module):
    def __init__(self, m, with_mask):
        super().__init__()
        self.m = m
        self.with_mask = with_mask

    def forward(self, input_ids, attention_mask=None):
        return features(self.m.get_text_features(input_ids=input_ids,
                                                 attention_mask=attention_mask if self.with_mask else None))


class VisionTower(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return features(self.m.get_image_features(pixel_values=pixel_values))


def towers(name, model, tokenizer, processor, texts, with_mask):
    """Saves `name/` as a Hub repository would: config, tokenizer, processor, model.safetensors, onnx/ with the
    merged graph and the two towers."""
    folder = os.path.join(OUT, name)
    os.makedirs(os.path.join(folder, "onnx"), exist_ok=True)
    model.save_pretrained(folder)  # config.json and model.safetensors (the learned logit_scale / logit_bias)
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(f"---\npipeline_tag: zero-shot-image-classification\n---\n# tiny random {name} (gpux test fixture)\n")
    pixels = processor(images=[image], return_tensors="pt")["pixel_values"]
    onnx_export(Merged(model), (texts["input_ids"], pixels, texts["attention_mask"]),
                os.path.join(folder, "onnx", "model.onnx"),
                ["input_ids", "pixel_values", "attention_mask"],
                ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
                {"input_ids": {0: "texts", 1: "sequence"}, "attention_mask": {0: "texts", 1: "sequence"},
                 "pixel_values": {0: "images"}, "logits_per_image": {0: "images", 1: "texts"},
                 "logits_per_text": {0: "texts", 1: "images"}, "text_embeds": {0: "texts"},
                 "image_embeds": {0: "images"}})
    text_args = (texts["input_ids"], texts["attention_mask"]) if with_mask else (texts["input_ids"],)
    text_names = ["input_ids", "attention_mask"] if with_mask else ["input_ids"]
    onnx_export(TextTower(model, with_mask), text_args, os.path.join(folder, "onnx", "text_model.onnx"),
                text_names, ["text_embeds"],
                {**{n: {0: "texts", 1: "sequence"} for n in text_names}, "text_embeds": {0: "texts"}})
    onnx_export(VisionTower(model), (pixels,), os.path.join(folder, "onnx", "vision_model.onnx"),
                ["pixel_values"], ["image_embeds"], {"pixel_values": {0: "images"}, "image_embeds": {0: "images"}})
    model.eval()
    pipe = pipeline("zero-shot-image-classification", model=model, tokenizer=tokenizer, image_processor=processor)
    return {
        "labels": labels,
        "answer": pipe(image, candidate_labels=labels),
        "template": {"hypothesisTemplate": "the {}",
                     "answer": pipe(image, candidate_labels=labels, hypothesis_template="the {}")},
        "logit_scale": float(model.logit_scale.exp()),
    }


vocab, merges = clip_vocab(["this", "is", "a", "photo", "of", "cat", "dog", "car", "red", "blue", "square",
                            "circle", "the"])
clip_tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges])
clip = CLIPModel(CLIPConfig(
    text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "max_position_embeddings": 32,
                 "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
                 "pad_token_id": vocab["<|endoftext|>"]},
    vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "image_size": 32, "patch_size": 8},
    projection_dim=16,
    architectures=["CLIPModel"],
))
widen(clip, 0.3).eval()
with torch.no_grad():
    clip.logit_scale.fill_(np.log(12.5))  # not the config's logit_scale_init_value: gpux must read the learned one
clip_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
goldens["clip"] = towers("clip", clip, clip_tok, clip_processor,
                         clip_tok(["a photo of a cat.", "a dog"], padding=True, return_tensors="pt"), True)

tok_dir = os.path.join(OUT, ".bert-tok")
os.makedirs(tok_dir, exist_ok=True)
bert_words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(
    set(" ".join(labels + ["this is a photo of", "the"]).split()) | set("abcdefghijklmnopqrstuvwxyz."))
with open(os.path.join(tok_dir, "vocab.txt"), "w") as f:
    f.write("\n".join(bert_words) + "\n")
bert_tok = BertTokenizerFast(vocab_file=os.path.join(tok_dir, "vocab.txt"), model_max_length=64)
siglip = SiglipModel(SiglipConfig(
    text_config={"vocab_size": len(bert_words), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "max_position_embeddings": 64, "projection_size": 32,
                 "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
    vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "image_size": 32, "patch_size": 8},
    architectures=["SiglipModel"],
))
widen(siglip, 0.3).eval()
with torch.no_grad():
    siglip.logit_scale.fill_(np.log(8.0))
    siglip.logit_bias.fill_(-1.5)
siglip_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
goldens["siglip"] = towers("siglip", siglip, bert_tok, siglip_processor,
                           bert_tok(["a photo of a cat.", "a dog"], padding="max_length", max_length=64,
                                    return_tensors="pt"), True)  # BERT's tokenizer gives a mask: the towers take it
goldens["siglip"]["logit_bias"] = float(siglip.logit_bias)

# ---- zero-shot-object-detection: OWLv2 (pads to a square, then resizes with anti-aliasing) ----------------
from transformers import Owlv2Config, Owlv2ForObjectDetection
from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

owl_vocab, owl_merges = clip_vocab(["red", "box", "blue", "disc", "cat"])
owl_tokenizer = CLIPTokenizer(vocab=owl_vocab, merges=[tuple(m.split(" ")) for m in owl_merges], pad_token="!",
                              model_max_length=16)
owl = Owlv2ForObjectDetection(Owlv2Config(
    text_config=dict(vocab_size=len(owl_vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=16, eos_token_id=owl_vocab["<|endoftext|>"],
                     bos_token_id=owl_vocab["<|startoftext|>"], pad_token_id=owl_vocab["!"]),
    vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                       image_size=32, patch_size=8),
    projection_dim=32,
)).eval()
with torch.no_grad():
    # boxes near each patch's own grid box and logits of moderate size: random weights saturate both
    for p in owl.box_head.parameters():
        p.mul_(0.02)
    owl.class_head.logit_scale.weight.mul_(0.0)
    owl.class_head.logit_scale.bias.fill_(-0.8)
    owl.class_head.logit_shift.weight.mul_(0.2)
    owl.class_head.logit_shift.bias.fill_(0.0)
owl_processor = Owlv2ImageProcessorPil(size={"height": 32, "width": 32})
folder = os.path.join(OUT, "owlv2")
os.makedirs(folder, exist_ok=True)
owl.config.architectures = ["Owlv2ForObjectDetection"]
owl.config.save_pretrained(folder)
owl_processor.save_pretrained(folder)
owl_tokenizer.save_pretrained(folder)
owl_labels = ["red box", "blue disc", "cat"]
encoded = owl_tokenizer(owl_labels, padding=True, return_tensors="pt")
owl_pixels = owl_processor(images=image, return_tensors="pt")["pixel_values"]


class OwlWrapper(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, pixel_values, attention_mask):
        result = self.inner(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
        return result.logits, result.pred_boxes


onnx_export(OwlWrapper(owl), (encoded["input_ids"], owl_pixels, encoded["attention_mask"]),
            os.path.join(folder, "model.onnx"), ["input_ids", "pixel_values", "attention_mask"],
            ["logits", "pred_boxes"],
            {"input_ids": {0: "queries", 1: "sequence"}, "attention_mask": {0: "queries", 1: "sequence"},
             "logits": {2: "queries"}})
owl.eval()
owl_threshold = 0.6
owl_pipeline = pipeline("zero-shot-object-detection", model=owl, tokenizer=owl_tokenizer, image_processor=owl_processor)
owl_answer = owl_pipeline(image, candidate_labels=owl_labels, threshold=owl_threshold)
owl_floats = []
for label in owl_labels:
    with torch.no_grad():
        one = owl(**owl_tokenizer([label], return_tensors="pt"), pixel_values=owl_pixels)
    post = owl_processor.post_process_object_detection(one, threshold=owl_threshold, target_sizes=[image.size[::-1]])[0]
    owl_floats += [(s, label, b) for s, b in zip(post["scores"].tolist(), post["boxes"].tolist())]
owl_floats.sort(key=lambda x: -x[0])
goldens["owlv2"] = {
    "labels": owl_labels,
    "threshold": owl_threshold,
    "pipeline": owl_answer,
    "boxes": [b for _, _, b in owl_floats],
    "scores": [s for s, _, _ in owl_floats],
    "pixel_values_shape": list(owl_pixels.shape),
    "pixel_values": owl_pixels.flatten().tolist(),
    # the processor alone at other sizes: a milder blur with fractional taps (48), and upsampling, no blur (100)
    "resized": [{"size": side, "pixel_values": Owlv2ImageProcessorPil(size={"height": side, "width": side})(
        images=image, return_tensors="pt")["pixel_values"].flatten().tolist()} for side in (48, 100)],
}

# ---- image-segmentation: Mask2Former (a tiny Swin backbone), instance / panoptic / semantic ---------------
from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig
from transformers.models.mask2former.image_processing_pil_mask2former import Mask2FormerImageProcessorPil

m2f_labels = {0: "box", 1: "disc", 2: "triangle", 3: "bar"}
m2f = Mask2FormerForUniversalSegmentation(Mask2FormerConfig(
    backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
                               window_size=2, out_features=["stage1", "stage2", "stage3", "stage4"]),
    feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_feedforward_dim=32, dim_feedforward=32,
    encoder_layers=1, decoder_layers=2, num_attention_heads=2, num_queries=10,
    id2label=m2f_labels, label2id={v: k for k, v in m2f_labels.items()}, use_pretrained_backbone=False,
)).eval()
with torch.no_grad():
    # queries, classes and masks that differ (random weights at their default scale answer one class everywhere)
    for name, p in m2f.named_parameters():
        if "norm" in name:
            continue
        if name.startswith("model.transformer_module") or "mask_embedder" in name or "query" in name or (
                "class_predictor" in name and "bias" not in name):
            p.normal_(0.0, 0.3)
    for name, p in m2f.named_parameters():
        if "queries_features" in name or "queries_embedder" in name:
            p.normal_(0.0, 3.0)
    m2f.class_predictor.bias.add_(torch.tensor([3.0, 0.8, 0.0, 3.5, 0.0]))
m2f_processor = Mask2FormerImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 128}, size_divisor=32)


class SegWrapper(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, pixel_values):
        result = self.inner(pixel_values=pixel_values)
        return result.class_queries_logits, result.masks_queries_logits


def segments(answer) -> list:
    return [{"label": a["label"], "score": a["score"], "mask": np.asarray(a["mask"]).flatten().tolist()}
            for a in answer]


seg_thresholds = {"instance": 0.3, "panoptic": 0.5, "semantic": None}


def universal(name: str, model, processor, title: str) -> dict:
    """Saves `name/` (config, processor, README, model.onnx) and returns the pipeline's answers per subtask."""
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(folder)
    processor.save_pretrained(folder)
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(f"---\npipeline_tag: image-segmentation\n---\n# tiny random {title} (gpux test fixture)\n")
    pixels = processor(images=image, return_tensors="pt")["pixel_values"]
    onnx_export(SegWrapper(model), (pixels,), os.path.join(folder, "model.onnx"), ["pixel_values"],
                ["class_queries_logits", "masks_queries_logits"],
                {"pixel_values": {0: "batch", 2: "height", 3: "width"}})
    model.eval()
    with torch.no_grad():
        out = model(pixel_values=pixels)
    segmenter = pipeline("image-segmentation", model=model, image_processor=processor)
    answer = {"pixel_values_shape": list(pixels.shape), "thresholds": seg_thresholds}
    for subtask, threshold in seg_thresholds.items():
        kwargs = {"threshold": threshold} if threshold is not None else {}
        answer[subtask] = segments(segmenter(image, subtask=subtask, **kwargs))
    # each instance's own binary map (the pipeline's masks are one map painted in torch's unsorted top-k order, so
    # where instances overlap the order decides; these do not depend on it)
    binary = processor.post_process_instance_segmentation(
        out, threshold=seg_thresholds["instance"], target_sizes=[image.size[::-1]], return_binary_maps=True)[0]
    answer["instance_binary"] = [
        {"label": model.config.id2label[s["label_id"]], "score": s["score"],
         "mask": (binary["segmentation"][k].numpy() * 255).astype(np.uint8).flatten().tolist()}
        for k, s in enumerate(binary["segments_info"])]
    return answer


goldens["mask2former"] = universal("mask2former", m2f, m2f_processor, "Mask2Former")

# ---- image-segmentation: MaskFormer (the same tiny Swin, a DETR decoder; no 384 × 384 mask step) ------------
from transformers import DetrConfig, MaskFormerConfig, MaskFormerForInstanceSegmentation
from transformers.models.maskformer.image_processing_pil_maskformer import MaskFormerImageProcessorPil

maskformer = MaskFormerForInstanceSegmentation(MaskFormerConfig(
    backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
                               window_size=2, out_features=["stage1", "stage2", "stage3", "stage4"]),
    decoder_config=DetrConfig(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                              decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=10),
    fpn_feature_size=32, mask_feature_size=32, num_queries=10,
    id2label=m2f_labels, label2id={v: k for k, v in m2f_labels.items()}, use_pretrained_backbone=False,
)).eval()
with torch.no_grad():
    for name, p in maskformer.named_parameters():
        if "norm" in name:
            continue
        if name.startswith("model.transformer_module") or "mask_embedder" in name or (
                "class_predictor" in name and "bias" not in name):
            p.normal_(0.0, 0.3)
    for name, p in maskformer.named_parameters():
        if "queries_embedder" in name:
            p.normal_(0.0, 3.0)
    maskformer.class_predictor.bias.add_(torch.tensor([3.0, 0.8, 0.0, 3.5, 0.0]))
goldens["maskformer"] = universal(
    "maskformer", maskformer,
    MaskFormerImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 128}, size_divisor=32), "MaskFormer")

with open(os.path.join(OUT, "goldens.json"), "w") as f:
    json.dump(goldens, f)


def digest(values) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(values, dtype=np.uint8).tobytes()).hexdigest()[:16]


def objects(answer) -> list:
    return [[o["label"], round(o["score"], 5), o["box"]] for o in answer]


# the small record committed as tests/goldens/vision2_tasks.json: what transformers answered
summary = {
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "clip": [[a["label"], round(a["score"], 5)] for a in goldens["clip"]["answer"]],
    "siglip": [[a["label"], round(a["score"], 5)] for a in goldens["siglip"]["answer"]],
    "owlv2": objects(goldens["owlv2"]["pipeline"]),
    **{name: {subtask: [[a["label"], a["score"] if a["score"] is None else round(a["score"], 5), digest(a["mask"])]
                        for a in goldens[name][subtask]] for subtask in seg_thresholds}
       for name in ("mask2former", "maskformer")},
}
with open(os.path.join(OUT, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print(os.path.join(OUT, "goldens.json"))
