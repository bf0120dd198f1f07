#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench natively for this machine (-march=native, as ../shared/peer/README.md's
# "figures to beat" were made), from the llama.cpp source that node-llama-cpp@3.21.1 ships as a git bundle
# (node_modules/node-llama-cpp/llama/gitRelease.bundle, release v0.4.0): no download beyond npm.
#
#   scripts/bench/build-native-llama.sh [PEER_DIR]      # prints the path of llama-bench
#
# PEER_DIR is the scratch folder holding node_modules (default ~/.cache/moge-bench/peer, where
# scripts/bench-vs-llama.sh installs the npm package). The build (cmake, a C++ compiler, ~5 min on 2 cores)
# lands in ~/.cache/moge-bench/native and is reused while the bundle is unchanged.
set -euo pipefail
cache="${MOGE_BENCH_CACHE:-$HOME/.cache/moge-bench}"
peer="${1:-$cache/peer}"
bundle="$peer/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "build-native-llama: $bundle not found (npm ci node-llama-cpp@3.21.1 in $peer first)" >&2; exit 1; }
for tool in git cmake c++; do
  command -v "$tool" >/dev/null || { echo "build-native-llama: $tool is not installed" >&2; exit 1; }
done
src="$cache/native/llama.cpp"
bin="$src/build/bin/llama-bench"
stamp="$cache/native/bundle.sha256"
sum=$(sha256sum "$bundle" | cut -d' ' -f1)
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
rm -rf "$src"
mkdir -p "$cache/native"
git clone -q "$bundle" "$src" 2>/dev/null
echo "build-native-llama: building llama-bench in $src/build" >&2
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF >&2
cmake --build "$src/build" --target llama-bench -j"$(nproc)" >&2
echo "$sum" > "$stamp"
echo "$bin"
