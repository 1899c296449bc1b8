#!/usr/bin/env python3
"""A tiny OPUS-MT-shaped Marian repository with sentencepiece tokenizer files (no tokenizer.json), and goldens from
transformers' MarianTokenizer and PyTorch `generate`.

Run (offline; the fixture builders' venv, tests/support/python_venv.ts torchPython, with sentencepiece):
    VENV/bin/python scripts/build_marian_spm_fixture.py OUTDIR

Writes into OUTDIR:
    marian-spm/       source.spm + target.spm (sentencepiece unigram models trained here on the English and German
                      texts below, normalization_rule_name=nmt_nfkc so the precompiled charsmap is the real one),
                      vocab.json as OPUS-MT builds it (`</s>`=0, `<unk>`=1, the source pieces then the target pieces
                      it lacks, `<pad>` last), tokenizer_config.json as OPUS-MT repositories have it, config.json,
                      generation_config.json, onnx/encoder_model.onnx + onnx/decoder_model_merged.onnx (a random
                      MarianMTModel whose vocabulary is that vocab.json, exported by build_seq2seq_fixtures.py).
    marian-spm-separate/  the same spm files with separate_vocabs (vocab.json: source pieces, target_vocab.json:
                      target pieces); tokenizer files only.
    bpe.spm           a sentencepiece BPE model (gpux reads unigram ones only).
    goldens.json      {"tokenizer": [{"text", "input_ids", "decoded", "decoded_with_specials" (decode without
                      skip_special_tokens; both null for separate vocabularies)}], "decode": [{"ids", "text",
                      "text_with_specials"}],
                      "separate": {"tokenizer": [...], "decode": [...]}, "generation": {"decoder_start_token_id",
                      "eos_token_id", "pad_token_id", "cases": [{"id", "inputs", "input_ids", "options", "sequences",
                      "texts"}]}, "versions": {...}}
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import build_seq2seq_fixtures as s2s  # noqa: E402  (torch, export helpers)
import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402

ENGLISH = """\
The quick brown fox jumps over the lazy dog. A translation model reads a sentence and writes it in another language.
Summaries are short; the article before them is long and full of details about the weather, the sea and the town.
Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to the children.
Every morning he walked to the harbour, checked his nets and looked at the sky to guess the weather of the day.
Numbers like 3.14 and 1,000 appear in text; so do dates such as 2026-12-07. Café, naïve and déjà vu carry accents.
"""
GERMAN = """\
Der schnelle braune Fuchs springt über den faulen Hund. Ein Übersetzungsmodell liest einen Satz und schreibt ihn.
Zusammenfassungen sind kurz; der Artikel davor ist lang und voller Einzelheiten über das Wetter und die Stadt.
Es war einmal ein alter Fischer, der in einem kleinen Dorf am Meer wohnte und den Kindern Geschichten erzählte.
Jeden Morgen ging er zum Hafen, prüfte seine Netze und schaute in den Himmel. Straße, Größe, Äpfel und Öl.
"""

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "  extra   spaces\tand\ttabs\n here  ",
    "Ｆｕｌｌ ｗｉｄｔｈ ＬＥＴＴＥＲＳ, the ﬁ and ﬂ ligatures, ① and ㎏",
    "Café, naïve, déjà vu — accents (composed) and cafe\u0301 (decomposed)",
    "Numbers: 3.14, 1,000 and 2026-12-07; ½ and ²",
    "Emoji 😀😀 and 🚀, unknown ✓ marks ☃",
    "Straße und Größe: German-only letters ß Ä Ö",
    ">>deu<< a language code first",
    "a </s> inside and <unk> and <pad>",
    "Hello . , ! ? 's n't",
    "\u00a0no-break\u2003em space\u200bzero width\u3000ideographic",
    "control\u0001chars\u007fhere",
    "",
    "    ",
    "\u2581meta symbol in the text",
    "UPPER lower MiXeD 123 4567890",
    "zero\u200dwidth joiner kept by nmt_nfkc, soft\u00adhyphen, <s> a control piece's text",
]
GENERATION_TEXTS = ["The quick brown fox", "Once upon a time, in a small village by the sea", "Café naïve ①"]


def train(prefix: str, text: str, size: int, model_type: str = "unigram") -> str:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines() * 3), model_prefix=prefix, vocab_size=size, model_type=model_type,
        normalization_rule_name="nmt_nfkc", character_coverage=1.0, num_threads=1, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, minloglevel=2)
    os.rename(prefix + ".model", prefix + ".spm")
    os.remove(prefix + ".vocab")
    return prefix + ".spm"


def pieces(path: str) -> list[str]:
    sp = spm.SentencePieceProcessor(model_file=path)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def marian_vocab(*models: list[str]) -> dict[str, int]:
    vocab = ["</s>", "<unk>"]
    seen = set(vocab) | {"<s>"}
    for ps in models:
        for p in ps:
            if p not in seen:
                seen.add(p)
                vocab.append(p)
    vocab.append("<pad>")
    return {p: i for i, p in enumerate(vocab)}


def tokenizer_goldens(folder: str, separate: bool) -> tuple[list, list]:
    from transformers import MarianTokenizer

    tok = MarianTokenizer.from_pretrained(folder)
    cases = []
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        # (with separate vocabularies the source ids mean nothing to the target vocabulary: no decode)
        decoded = None if separate else tok.decode(ids, skip_special_tokens=True)
        kept = None if separate else tok.decode(ids)
        cases.append({"text": text, "input_ids": ids, "decoded": decoded, "decoded_with_specials": kept})
    rng = random.Random(3)
    size = len(tok.decoder)
    decodes = []
    for n in (1, 3, 8, 20, 40):
        for _ in range(4):
            ids = [rng.randrange(size) for _ in range(n)]
            decodes.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=True),
                            "text_with_specials": tok.decode(ids)})
    return cases, decodes


def init_weights(model, seed: int) -> None:
    """Random weights (normal, std 1; layer norms near identity) that make greedy and beam outputs vary by input,
    which build_seq2seq_fixtures.py's std-0.5-everywhere init does not for this vocabulary size."""
    model.set_attn_implementation("eager")  # sdpa's is_causal cannot be traced with a dynamic query length
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            norm = "layer_norm" in name
            base = 1.0 if norm and name.endswith("weight") else 0.0
            p.copy_(base + torch.randn(p.shape, generator=g) * (0.1 if norm else 1.0))


def write_config(folder: str, separate: bool) -> None:
    s2s.write_json(os.path.join(folder, "tokenizer_config.json"), {
        "source_lang": "en", "target_lang": "de", "unk_token": "<unk>", "eos_token": "</s>", "pad_token": "<pad>",
        "model_max_length": 512, "sp_model_kwargs": {}, "separate_vocabs": separate,
        "tokenizer_class": "MarianTokenizer"})


def main() -> None:
    import transformers
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    os.chdir(out)
    source = train("source", ENGLISH, 120)
    target = train("target", GERMAN, 110)
    bpe = train("bpe", ENGLISH, 100, "bpe")
    assert bpe == "bpe.spm"
    repo = os.path.join(out, "marian-spm")
    sep = os.path.join(out, "marian-spm-separate")
    for folder in (repo, sep):
        os.makedirs(folder, exist_ok=True)
        shutil.copy(source, folder)
        shutil.copy(target, folder)
    os.remove(source)
    os.remove(target)
    vocab = marian_vocab(pieces(f"{repo}/source.spm"), pieces(f"{repo}/target.spm"))
    s2s.write_json(os.path.join(repo, "vocab.json"), vocab)
    write_config(repo, False)
    s2s.write_json(os.path.join(sep, "vocab.json"), marian_vocab(pieces(f"{repo}/source.spm")))
    s2s.write_json(os.path.join(sep, "target_vocab.json"), marian_vocab(pieces(f"{repo}/target.spm")))
    write_config(sep, True)

    cases, decodes = tokenizer_goldens(repo, False)
    sep_cases, sep_decodes = tokenizer_goldens(sep, True)

    # a random MarianMTModel over this vocabulary, in optimum's merged layout
    torch.manual_seed(7)
    v = len(vocab)
    pad, eos = vocab["<pad>"], vocab["</s>"]
    cfg = MarianConfig(vocab_size=v, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                       decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                       pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
                       scale_embedding=True, architectures=["MarianMTModel"])
    model = MarianMTModel(cfg).eval()
    init_weights(model, 15)
    model.final_logits_bias[0, eos] = 1.0
    gen = {"decoder_start_token_id": pad, "eos_token_id": eos, "pad_token_id": pad, "bad_words_ids": [[pad]],
           "forced_eos_token_id": eos, "max_length": 64, "num_beams": 1}
    model.config.save_pretrained(repo)
    s2s.write_json(os.path.join(repo, "generation_config.json"), gen)
    onnx_dir = os.path.join(repo, "onnx")
    s2s.export_all(model, onnx_dir)
    s2s.merge(onnx_dir)
    for f in ("decoder_model.onnx", "decoder_with_past_model.onnx"):
        os.remove(os.path.join(onnx_dir, f))
    model.generation_config = GenerationConfig(**gen)
    tok = MarianTokenizer.from_pretrained(repo)
    generation = []
    for cid, indices, options in (("greedy", [0], {"max_new_tokens": 12}),
                                  ("greedy_batch", [0, 1, 2], {"max_new_tokens": 12}),
                                  ("beam4", [1], {"max_new_tokens": 12, "num_beams": 4})):
        texts = [GENERATION_TEXTS[i] for i in indices]
        feed = tok(texts, return_tensors="pt", padding=True)
        rows = [tok(t)["input_ids"] for t in texts]
        opts = {"num_beams": 1, **options}
        seqs = s2s.torch_generate(model, {"input_ids": feed["input_ids"], "attention_mask": feed["attention_mask"]},
                                  opts, eos)
        generation.append({"id": cid, "inputs": texts, "input_ids": rows, "options": opts, "sequences": seqs,
                           "texts": [tok.decode(s, skip_special_tokens=True) for s in seqs]})
    # the exported graphs against torch (greedy; pad suppressed as bad_words_ids says, EOS forced at the end)
    feed = tok(GENERATION_TEXTS, return_tensors="pt", padding=True)
    got = s2s.ort_greedy(onnx_dir, "", {k: v.numpy() for k, v in feed.items()}, pad, eos, 12, [pad], eos)
    want = next(c for c in generation if c["id"] == "greedy_batch")["sequences"]
    assert got == want, f"onnxruntime greedy {got} != torch {want}"
    s2s.write_json(os.path.join(out, "goldens.json"), {
        "tokenizer": cases, "decode": decodes, "separate": {"tokenizer": sep_cases, "decode": sep_decodes},
        "generation": {"decoder_start_token_id": pad, "eos_token_id": eos, "pad_token_id": pad, "cases": generation},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentencepiece": spm.__version__},
    })


if __name__ == "__main__":
    main()
