#!/usr/bin/env bash
# Side by side with llama.cpp (node-llama-cpp@3.21.1, its prebuilt CPU build) on the same GGUF files, the
# same thread count, the same machine, runs alternating; prints the ratios (moge / llama.cpp).
#
#   scripts/bench-vs-llama.sh [--threads N] [--rounds R] [--quick] [--skip-agree] [--skip-bench] [--models "a b"] [--native]
#
# --native also builds llama.cpp's own llama-bench for this machine (scripts/bench/build-native-llama.sh, from the
# source node-llama-cpp ships; ~5 min once on 2 cores) and runs it in the same alternation: the issue's targets are stated
# against native llama.cpp, which on AVX-512 machines runs about twice as fast as the npm build through Node.
#
# Models (generated with ../shared/peer/make_gguf.py when absent, cached outside the repository):
#   qwen3moe-q8_0 pangu-embedded-q8_0 qwen3moe-q4_0 pangu-embedded-q4_0 (the reference shapes: 16 layers,
#   hidden 2048; --quick uses 4-layer variants), and pangu-pro-moe-q8_0 and pangu-pro-moe-q4_0: qwen3moe's shapes
#   in moge's own MoGE architecture (64 experts in 8 groups, one active in each; scripts/GenMogeModel.java, then
#   `moge convert`), which llama.cpp does not run, so its figures there are those of the qwen3moe file of the
#   same type, measured in the same place of the alternation. Before the speed runs it checks that both engines agree:
#   identical greedy tokens on F32 qwen3moe and pangu-embedded files (2 layers, reference widths) and the
#   same top token at >= 99% of prompt positions on the Q8_0 files, near-ties (llama.cpp's own top-2 log-prob gap
#   under 0.05 nats) aside: see scripts/bench/agree.py.
# Environment: MOGE_PEER_DIR (default ../shared/peer), MOGE_BENCH_CACHE (default ~/.cache/moge-bench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
peer_src="${MOGE_PEER_DIR:-$root/../shared/peer}"
cache="${MOGE_BENCH_CACHE:-$HOME/.cache/moge-bench}"
threads=2 rounds=3 quick=0 agree=1 bench=1 native=0
models="qwen3moe-q8_0 pangu-embedded-q8_0 pangu-pro-moe-q8_0 qwen3moe-q4_0 pangu-embedded-q4_0 pangu-pro-moe-q4_0"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --skip-agree) agree=0; shift ;;
    --skip-bench) bench=0; shift ;;
    --models) models="$2"; shift 2 ;;
    --native) native=1; shift ;;
    *) echo "bench-vs-llama: unknown option $1" >&2; exit 2 ;;
  esac
done
for f in make_gguf.py bench.mjs package.json package-lock.json; do
  [ -f "$peer_src/$f" ] || { echo "bench-vs-llama: $peer_src/$f not found (set MOGE_PEER_DIR)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "bench-vs-llama: node is not installed" >&2; exit 1; }
py=python3
"$py" -c "import numpy" 2>/dev/null || py=/usr/bin/python3

# --- the peer, installed outside the repository
scratch="$cache/peer"
mkdir -p "$scratch" "$cache/models"
if ! cmp -s "$peer_src/package-lock.json" "$scratch/package-lock.json" || [ ! -d "$scratch/node_modules/node-llama-cpp" ]; then
  cp "$peer_src/package.json" "$peer_src/package-lock.json" "$scratch/"
  (cd "$scratch" && npm ci --no-audit --no-fund >&2)
fi
cp "$peer_src/bench.mjs" "$root/scripts/bench/peer-agree.mjs" "$scratch/"
native_bench=""
[ "$native" = 1 ] && native_bench=$("$root/scripts/bench/build-native-llama.sh" "$scratch")

moge=("$root/moge")

# --- the model files
layers=16; [ "$quick" = 1 ] && layers=4
model_file() { # name -> path (generated if absent)
  local name="$1" arch type extra="" file
  arch="${name%-*}"; type="${name##*-}"
  [ "$arch" = pangu-embedded ] && extra="--n-ff 1536"
  local L="$layers"; [ "$type" = f32 ] && L=2
  case "$arch" in
    qwen3moe) file="$cache/models/qwen3moe-L$L-E2048-X64A8-F192-$type.gguf" ;;
    pangu-pro-moe) file="$cache/models/pangu-pro-moe-L$L-E2048-X64G8A8-F192-$type.gguf"
      if [ ! -f "$file" ]; then
        local hf="$cache/models/pangu-pro-moe-L$L-hf"
        if [ ! -f "$hf/config.json" ]; then
          echo "generating $hf" >&2
          (. "$root/scripts/jdk.sh" && "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$root/moge-cli/target/moge.jar" \
            "$root/scripts/GenMogeModel.java" "$hf" "$L" 2048 64 8 8 192 32000 16 4 128 0 >&2)
        fi
        "${moge[@]}" convert "$hf" --type "$type" -o "$file" >&2
      fi
      echo "$file"; return ;;
    *) file="$cache/models/$arch-L$L-E2048-F1536-$type.gguf" ;;
  esac
  if [ ! -f "$file" ]; then
    echo "generating $file" >&2
    if [ "$type" = q4_0 ]; then
      "$py" "$root/scripts/bench/make_gguf_q4_0.py" --peer-dir "$peer_src" --arch "$arch" $extra --n-layer "$L" --out "$file" >&2
    else
      "$py" "$peer_src/make_gguf.py" --arch "$arch" $extra --n-layer "$L" --type "$type" --out "$file" >&2
    fi
  fi
  echo "$file"
}

out="$cache/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
"${moge[@]}" --version >/dev/null # builds on first use
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc)"
  echo "vector flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "java: $(. "$root/scripts/jdk.sh" && "$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  echo "node: $(node --version), node-llama-cpp $(cd "$scratch" && node -p 'require("./node_modules/node-llama-cpp/package.json").version')"
  echo "threads: $threads, rounds: $rounds, layers: $layers"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

prompt_ids() { # N pseudo-random ids, bench.mjs's generator
  "$py" -c "
x = 12345; out = []
for i in range($1):
    x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    out.append(x % 25000)
print(','.join(map(str, out)))"
}

# --- agreement
if [ "$agree" = 1 ]; then
  ids=$(prompt_ids 128)
  rm -f "$out/agree-failed"
  for name in qwen3moe-f32 pangu-embedded-f32 qwen3moe-q8_0 pangu-embedded-q8_0; do
    f=$(model_file "$name")
    (cd "$scratch" && node peer-agree.mjs "$f" "[$ids]" 32 "$threads") > "$out/agree-peer-$name.json"
    # llama.cpp multiplies Q8_0/Q4_0 weights with activations rounded to the Q8_0 grid: --activations q8 does
    # the same and is the check; moge's default float activations are shown for information
    for act in q8 f32; do
      info=""; [ "$act" = f32 ] && info=--info
      [ "$act" = f32 ] && [[ "$name" == *f32 ]] && continue
      "${moge[@]}" generate -m "$f" --prompt-ids "$ids" -n 32 --json --prompt-logprobs --top-logprobs 2 --ignore-eos \
        -t "$threads" -c 256 -b 128 --activations "$act" > "$out/agree-moge-$name-$act.json"
      "$py" "$root/scripts/bench/agree.py" "$name" "$out/agree-moge-$name-$act.json" "$out/agree-peer-$name.json" "$act" $info \
        || touch "$out/agree-failed"
    done
  done | tee "$out/agree.txt"
  [ -f "$out/agree-failed" ] && echo "bench-vs-llama: the engines DISAGREE (see $out/agree.txt)" >&2
fi

# --- speed, alternating
if [ "$bench" = 1 ]; then
  for name in $models; do
    f=$(model_file "$name")
    pf="$f" # llama.cpp runs the qwen3moe twin of a pangu-pro-moe file
    [[ "$name" == pangu-pro-moe-* ]] && pf=$(model_file "qwen3moe-${name##*-}")
    for r in $(seq 1 "$rounds"); do
      echo "round $r/$rounds $name: llama.cpp" >&2
      (cd "$scratch" && node bench.mjs "$pf" --threads "$threads" --runs 2 --pp 512 --tg 128 --fa false \
        --out "$out/peer-$name-$r.json" > /dev/null 2>> "$out/peer.log")
      if [ -n "$native_bench" ]; then
        echo "round $r/$rounds $name: llama.cpp native" >&2
        "$native_bench" -m "$pf" -t "$threads" -p 512 -n 128 -r 2 -fa 0 -o json > "$out/native-$name-$r.json" 2>> "$out/peer.log"
      fi
      echo "round $r/$rounds $name: moge" >&2
      "${moge[@]}" bench -m "$f" -p 512 -n 128 -r 2 -t "$threads" --json > "$out/moge-$name-$r.json"
    done
  done
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
  "$py" - "$out" $models <<'EOF' | tee "$out/summary.md"
import glob, json, statistics, sys
out, names = sys.argv[1], sys.argv[2:]
native = bool(glob.glob(f"{out}/native-*.json"))
cols = " llama.cpp native t/s (median) | moge / native |" if native else ""
print("| model | test | llama.cpp t/s (median) | moge t/s (median) | moge / llama.cpp | moge % of bandwidth ceiling | llama.cpp % of ceiling |" + cols)
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if native else ""))
for name in names:
    peer = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/peer-{name}-*.json"))]
    moge = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/moge-{name}-*.json"))]
    if not peer or not moge:
        continue
    for test, key in (("pp512", "ppTps"), ("tg128", "tgTps")):
        p = statistics.median([r[key] for s in peer for r in s["raw"]])
        recs = [rec for m in moge for rec in m if rec["test"] == test]
        ms = [v for rec in recs for v in rec["samples_ts"]]
        mm = statistics.median(ms)
        bw = max(rec.get("bandwidth_bytes_per_s", 0) for rec in recs)
        bpt = recs[0].get("weight_bytes_per_token")
        mfrac = f"{100 * mm * bpt / bw:.1f}%" if test == "tg128" and bpt and bw else ""
        pfrac = f"{100 * p * bpt / bw:.1f}%" if test == "tg128" and bpt and bw else ""
        label = f"{name} (llama.cpp: qwen3moe-{name.rsplit('-', 1)[1]})" if name.startswith("pangu-pro-moe") else name
        row = f"| {label} | {test} | {p:.2f} | {mm:.2f} | {mm / p:.2f}x | {mfrac} | {pfrac} |"
        if native:
            nat = [v for f in sorted(glob.glob(f"{out}/native-{name}-*.json")) for rec in json.load(open(f))
                   if (rec["n_prompt"] > 0) == (test == "pp512") for v in rec["samples_ts"]]
            n = statistics.median(nat) if nat else None
            row += f" {n:.2f} | {mm / n:.2f}x |" if n else " | |"
        print(row)
bws = [rec["bandwidth_bytes_per_s"] for f in glob.glob(f"{out}/moge-*.json") for rec in json.load(open(f)) if "bandwidth_bytes_per_s" in rec]
if bws:
    print(f"\nmemory bandwidth (read-only sweep, 1 GiB, same threads, best pass per moge run): median {statistics.median(bws) / 1e9:.1f} GB/s, "
          f"range {min(bws) / 1e9:.1f}-{max(bws) / 1e9:.1f} GB/s")
EOF
fi
echo "results in $out" >&2
