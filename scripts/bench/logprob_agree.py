#!/usr/bin/env python3
"""Compares moge's and llama.cpp's log-probs on one file, position by position (see peer-logprobs.mjs).

usage: logprob_agree.py NAME MOGE_JSON PEER_JSON
MOGE_JSON is `moge generate --json --prompt-logprobs --top-logprobs 8`, PEER_JSON is peer-logprobs.mjs output.
llama.cpp's probabilities come renormalized over the tokens its default sampler keeps, so each log-prob is taken
relative to the position's top token (a difference of logits, which normalization does not touch). On an F32
file the two agree to the last printed digit; on a quantized one llama.cpp rounds activations for its integer
dot products, so they differ by a few hundredths: compare with an already-checked type on the same model, and
with moge's own change between the F32 and the quantized file (a misread block field would be of that order).
"""
import json
import sys

name, m, p = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
flips, d = [], []
for s, q in zip(m["prompt_steps"], p["top"]):
    mine = {int(t): lp for t, lp in s["top"]}
    if s["top"][0][0] != q[0][0]:
        flips.append(f"{s['top'][0][1] - s['top'][1][1]:.3f}")
    if q[0][0] not in mine:
        continue
    for t, lp in q[1:]:
        if t in mine:
            d.append(abs((mine[t] - mine[q[0][0]]) - (lp - q[0][1])))
print(f"{name}: top token {len(p['top']) - len(flips)}/{len(p['top'])} (moge's top-1/top-2 margins where they differ: "
      f"{', '.join(flips) or '-'}); |moge - llama.cpp| of log-prob minus the top token's over {len(d)} pairs of llama.cpp's "
      f"top {len(p['top'][0])}: mean {sum(d) / len(d):.4f}, max {max(d):.4f}")
