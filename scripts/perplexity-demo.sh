#!/usr/bin/env bash
# What quantizing costs the demo model, in llama-perplexity's terms: the BF16 model writes arithmetic transcripts
# (60 problems, fixed seed), then its Q8_0, Q4_K_M and Q4_0 conversions are scored against its own predictions on
# them (perplexity and KL divergence). Usage: scripts/perplexity-demo.sh [OUTDIR] (default /tmp/moge-ppl-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/moge-ppl-demo}
mkdir -p "$out"
RANDOM=7
for _ in $(seq 60); do
    a=$((100 + RANDOM % 9900)) b=$((10 + RANDOM % 990))
    case $((RANDOM % 3)) in
        0) echo "What is $a+$b?" ;;
        1) echo "What is $((a > b ? a : b))-$((a > b ? b : a))?" ;;
        2) echo "What is $a*$((2 + b % 8))?" ;;
    esac
done > "$out/questions.txt"
./moge < "$out/questions.txt" 2>/dev/null > "$out/answers.txt"
cat "$out/questions.txt" "$out/answers.txt" > "$out/text.txt"
./moge perplexity -f "$out/text.txt" -c 256 --kl-divergence-base "$out/base.kld" 2>/dev/null | tail -1
for t in q8_0 q4_k_m q4_0; do
    ./moge convert models/demo --type "$t" -o "$out/demo-$t.gguf" >/dev/null 2>&1
    echo "== $t"
    ./moge perplexity -m "$out/demo-$t.gguf" --kl-divergence-base "$out/base.kld" --kl-divergence 2>/dev/null | grep -v '^\['
done
