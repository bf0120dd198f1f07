#!/usr/bin/env python3
"""Compares moge's and llama.cpp's predictions on one file (see bench-vs-llama.sh).

usage: agree.py NAME MOGE_JSON PEER_JSON ACTIVATIONS [--info]
MOGE_JSON is `moge generate --json --prompt-logprobs --top-logprobs 1`, PEER_JSON is peer-agree.mjs output.
F32 files must match exactly (top token at every prompt position and the greedy continuation); quantized
ones need the same top token at >= 99% of the prompt positions. Also printed: the top-1/top-2 log-prob
margin (moge's) at the positions that differ. On quantized files the two engines' float additions run in
different orders, and rounding activations to Q8_0 turns such last-bit differences into whole quantization
steps now and then, so positions whose two best tokens are within a few hundredths can flip; a flip at a
large margin would be a real difference. Exit status 1 when the check fails (unless --info).
"""
import json
import sys

name, moge, peer, act = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), sys.argv[4]
info = "--info" in sys.argv[5:]
mt = [s["top"][0][0] for s in moge["prompt_steps"]]
same = sum(a == b for a, b in zip(mt, peer["top"]))
frac = same / len(peer["top"])
greedy_same = moge["generated_ids"] == peer["greedy"]
first = next((i for i, (a, b) in enumerate(zip(moge["generated_ids"], peer["greedy"])) if a != b), None)
margins = []
for i, (a, b) in enumerate(zip(mt, peer["top"])):
    if a != b:
        top = moge["prompt_steps"][i]["top"]
        margins.append(top[0][1] - top[1][1] if len(top) > 1 else float("nan"))
exact = name.endswith("f32")
ok = (greedy_same and same == len(mt)) if exact else frac >= 0.99
rule = "exact match required" if exact else ">= 99% of positions required"
print(f"agree {name} (moge --activations {act}): top token at {same}/{len(peer['top'])} prompt positions "
      f"({100 * frac:.1f}%), greedy 32 tokens {'identical' if greedy_same else f'differ from token {first}'}"
      f"{'; margins where they differ: ' + ', '.join(f'{m:.3f}' for m in margins) if margins else ''}"
      f" -> {'OK' if ok else 'FAILED'} ({rule}{', information only' if info else ''})")
sys.exit(0 if ok or info else 1)
