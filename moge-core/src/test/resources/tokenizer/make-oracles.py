# Regenerates the sentencepiece reference cases used by SentencePieceOracleTest.
#   pip install sentencepiece==0.2.2   (only needed to regenerate; the tests read the JSON files)
#   python3 make-oracles.py <repo root>
# sp-oracle.json: the fixture tokenizer.model wrapped like the slow HF PanguTokenizer: split on the
#   added_tokens_decoder entries (leftmost, longest first; empty segments skipped), sp.encode per segment;
#   decoding runs sp.decode on each run of ids between added tokens, which are emitted verbatim.
# rules-bpe.model / rules-bpe-oracle.json: a tiny BPE model trained here with custom normalization rules
#   (a precompiled charsmap), remove_extra_whitespaces, no byte fallback and user-defined/control symbols;
#   plain sp.encode/sp.decode over the whole text.
import sys, os, json, random, tempfile
import sentencepiece as spm

root = sys.argv[1]
res = os.path.join(root, 'moge-core/src/test/resources/tokenizer')
fixture = os.path.join(root, 'testdata/fixtures/pangu-moe-tiny')

# ---- sp-oracle.json
sp = spm.SentencePieceProcessor(model_file=os.path.join(fixture, 'tokenizer.model'))
cfg = json.load(open(os.path.join(fixture, 'tokenizer_config.json')))
added = {v['content']: int(k) for k, v in cfg['added_tokens_decoder'].items()}
added_ids = set(added.values())

def split(text):
    parts = []; seg = 0; i = 0
    while i < len(text):
        best = None
        for a in added:
            if text.startswith(a, i) and (best is None or len(a) > len(best)): best = a
        if best is None: i += 1; continue
        parts.append(text[seg:i]); parts.append(best); i += len(best); seg = i
    parts.append(text[seg:])
    return parts

def encode(text):
    out = []
    for p in split(text):
        if not p: continue
        if p in added: out.append(added[p])
        else: out.extend(sp.encode(p))
    return out

def decode(ids):
    out = ''; run = []
    for t in ids:
        if t in added_ids:
            out += sp.decode(run); run = []; out += sp.id_to_piece(t)
        else: run.append(t)
    return out + sp.decode(run)

fixed = ["Hello world", "  leading spaces", "trailing spaces  ", "double  space", "tab\there", "new\nline",
  "\n\nstarts with newlines", " ", "", "   ", "a[unused9]b", "a [unused9] b", "[unused9][unused10]",
  "[unused9]  x  [unused10]", "<s>hi</s>", "<|User|>:hi<|Bot|>:", "[unused1][unused10][unused1]0]",
  "[unused", "😀", "I ❤ 🍕!", "龘", "日本語のテキスト", "系统：你好，世界。", "\b", "▁literal", "a▁▁b", "a ▁ b",
  "\x00\x01\x7f", "é e\u0301", "👨‍👩‍👧", "a\u00a0b", "a\u3000b", "The quick brown fox jumps over the lazy dog",
  "What is the meaning of life?", "x" * 300, " ".join(["word"] * 50), "[unused9]系统：[unused10][unused9]用户： hi [unused10][unused9]助手：",
  "line1\r\nline2", "\t\t", "trailing newline\n", " [unused9] ", "end with special[unused10]", "[unused17] answer"]
rng = random.Random(7)
alphabet = list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ   ..,,!?'\"\n\t0123456789-_") + list("你好世界系统用户助手：，。龘😀é▁\u00a0") + ["[unused9]", "[unused10]", "<s>", "</s>", "<unk>", "[unused1]", "[unused", "]"]
rand = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(400)]
cases = [{"text": t, "ids": encode(t)} for t in fixed + rand]
for c in cases: c["decoded"] = decode(c["ids"])
dec = []
for n in range(300):
    ids = []
    for _ in range(rng.randint(0, 24)):
        r = rng.random()
        if r < 0.4: ids.append(rng.randint(39, 294))        # byte pieces
        elif r < 0.55: ids.append(rng.randint(0, 38))       # added/special
        else: ids.append(rng.randint(295, 1279))
    dec.append({"ids": ids, "decoded": decode(ids)})
json.dump({"generator": "sentencepiece " + spm.__version__ + " with HF-style added-token split (see make-oracles.py)",
           "encode": cases, "decode": dec}, open(os.path.join(res, 'sp-oracle.json'), 'w'), ensure_ascii=False, indent=0)

# ---- rules-bpe.model and rules-bpe-oracle.json
work = tempfile.mkdtemp()
rng = random.Random(3)
words = "the quick brown fox jumps over lazy dog hello world token piece model space tab line café naïve 你好 世界 模型 数据 fine office".split()
with open(os.path.join(work, 'corpus.txt'), 'w') as f:
    for i in range(3000):
        f.write(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n")
# rules: full-width A -> A, fi ligature -> fi, tab -> space, e + combining acute -> é, ideographic space -> space, ABC -> xy
open(os.path.join(work, 'rules.tsv'), 'w').write("FF21\t41\nFB01\t66 69\n9\t20\n65 301\tE9\n3000\t20\n41 42 43\t78 79\n")
spm.SentencePieceTrainer.train(input=os.path.join(work, 'corpus.txt'), model_prefix=os.path.join(res, 'rules-bpe'),
    model_type='bpe', vocab_size=200, normalization_rule_tsv=os.path.join(work, 'rules.tsv'),
    remove_extra_whitespaces=True, byte_fallback=False, user_defined_symbols=['<tool>', '<to'],
    control_symbols=['<ctl>'], character_coverage=1.0, minloglevel=2)
os.remove(os.path.join(res, 'rules-bpe.vocab'))
sp = spm.SentencePieceProcessor(model_file=os.path.join(res, 'rules-bpe.model'))
fixed = ["ＡBC", "ABC", "ＡＡBC", "ﬁne office", "a\tb", "e\u0301", "café naïve", "  lots   of   spaces  ", "\t\ttabs\t",
  "<tool>x<to y<ctl>z", "<tool><tool>", "unknown ☃☃ chars ☃", "☃", "", "   ", "\u3000wide\u3000space\u3000",
  "hello world", "你好 世界 模型 数据", "the  quick\u3000\u3000brown", "x\u0301", "▁▁", "<unk>", "<s> </s>"]
rng = random.Random(11)
alphabet = list("abcdefghiklmnoprstuwxyz  ABC\t\u3000ＡﬁéïΩ☃你好世界.") + ["e\u0301", "<tool>", "<to", "<ctl>", "<unk>"]
rand = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(300)]
cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in fixed + rand]
dec = []
for n in range(200):
    ids = [rng.randint(0, sp.get_piece_size() - 1) for _ in range(rng.randint(0, 16))]
    dec.append({"ids": ids, "decoded": sp.decode(ids)})
json.dump({"generator": "sentencepiece " + spm.__version__, "encode": cases, "decode": dec},
          open(os.path.join(res, 'rules-bpe-oracle.json'), 'w'), ensure_ascii=False, indent=0)
