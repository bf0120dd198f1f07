#!/usr/bin/env python3
"""Load generator for `moge serve` (Python standard library only; loopback only).

  scripts/bench-serve.py --url http://127.0.0.1:8080 --concurrency 1,4,16 --requests 4 --max-tokens 64
  scripts/bench-serve.py --url ... --prefix-tokens 1000 --requests 8     # shared system prompt, sequential

Each client sends streaming chat requests one after another (ignore_eos, so every request generates
exactly --max-tokens tokens) and records the time to the first content chunk. Reports aggregate generation
tokens/s (all completion tokens / wall time), TTFT p50/p99 and the server's own timings, and from the
server's /metrics the prompt tokens it ran per request (after the prefix cache) and the share of the wall
time its model was computing. --prompt-tokens N sizes the user message by tokens instead of words.
"""
import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse

WORDS = "apple river stone light music cloud paper tiger ocean green silver market window garden winter".split()


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def one_request(url, body):
    """Sends one streaming request; returns (ttft_s, total_s, completion_tokens, timings)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:300]))
    ttft, usage, timings = None, None, None
    for raw in resp:
        line = raw.decode("utf-8").strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            break
        ev = json.loads(data)
        for ch in ev.get("choices", []):
            if ttft is None and ch.get("delta", {}).get("content"):
                ttft = time.perf_counter() - t0
        if ev.get("usage"):
            usage = ev["usage"]
        if ev.get("timings"):
            timings = ev["timings"]
    total = time.perf_counter() - t0
    conn.close()
    if ttft is None:
        ttft = total
    return ttft, total, usage["completion_tokens"] if usage else 0, timings


def server_counters(url):
    """The server's cumulative prompt tokens, generated tokens and forward-pass seconds (None if /metrics is absent)."""
    u = urllib.parse.urlparse(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode("utf-8")
        conn.close()
    except OSError:
        return None
    names = ("moge_prompt_tokens_total", "moge_generation_tokens_total", "moge_scheduler_forward_seconds_sum")
    got = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            got[name] = float(value)
    return got


def run_load(url, concurrency, requests, max_tokens, prompt_words, seed):
    results, errors = [], []
    before = server_counters(url)
    lock = threading.Lock()

    def client(i):
        rng = random.Random(seed * 1000 + i)
        for _ in range(requests):
            body = {"messages": [{"role": "user", "content": words(rng, prompt_words)}], "max_tokens": max_tokens,
                    "temperature": 0, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
            try:
                r = one_request(url, body)
                with lock:
                    results.append(r)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(str(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r[2] for r in results)
    ttfts = [r[0] for r in results]
    print("concurrency %2d: %3d requests, %d errors, %6d tokens in %6.2f s = %7.1f tok/s aggregate; "
          "TTFT p50 %6.1f ms p99 %6.1f ms" % (concurrency, len(results), len(errors), tokens, wall, tokens / wall,
                                               percentile(ttfts, 50) * 1000, percentile(ttfts, 99) * 1000))
    after = server_counters(url)
    key, fwd = "moge_prompt_tokens_total", "moge_scheduler_forward_seconds_sum"
    if before and after and results and key in after:
        # where the time went: prompt tokens cost compute too, and a model that is not busy waits on something else
        line = "%.1f prompt tokens per request (after the prefix cache)" % ((after[key] - before.get(key, 0)) / len(results))
        if fwd in after:
            line += ", model busy %.0f%% of the wall time" % (100.0 * (after[fwd] - before.get(fwd, 0)) / wall)
        print("                " + line)
    for e in errors[:3]:
        print("  error:", e)
    return tokens / wall


def tokens_per_word(url):
    """Measures how many tokens a word of this vocabulary takes (a text the test will not reuse)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    conn.request("POST", "/v1/completions", body=json.dumps({"prompt": words(random.Random(12345), 200), "max_tokens": 1}),
                 headers={"Content-Type": "application/json"})
    n = json.loads(conn.getresponse().read())["usage"]["prompt_tokens"]
    conn.close()
    return n / 200.0


def run_prefix(url, prefix_tokens, requests, seed):
    rng = random.Random(seed)
    system = words(rng, max(1, int(prefix_tokens / tokens_per_word(url))))
    ttfts, cached, prompt = [], [], 0
    for i in range(requests):
        body = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": "question %d: %s" % (i, words(rng, 8))}],
                "max_tokens": 4, "temperature": 0, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
        ttft, _, _, timings = one_request(url, body)
        ttfts.append(ttft)
        cached.append(timings["cache_n"] if timings else -1)
        prompt = timings["cache_n"] + timings["prompt_n"] if timings else -1
    print("shared system prompt, %d-token prompts: first request TTFT %.1f ms (cache_n %d); next %d: TTFT p50 %.1f ms, "
          "p99 %.1f ms (cache_n %s)" % (prompt, ttfts[0] * 1000, cached[0], requests - 1, percentile(ttfts[1:], 50) * 1000,
                                       percentile(ttfts[1:], 99) * 1000, sorted(set(cached[1:]))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=0,
                    help="size the user message to about this many tokens instead (measured on the server's tokenizer)")
    ap.add_argument("--prefix-tokens", type=int, default=0, help="run the shared-system-prompt TTFT test instead")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds over the concurrency levels (medians)")
    a = ap.parse_args()
    host = urllib.parse.urlparse(a.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("bench-serve: loopback addresses only")
    if a.prefix_tokens > 0:
        run_prefix(a.url, a.prefix_tokens, a.requests, a.seed)
        return
    if a.prompt_tokens > 0:
        a.prompt_words = max(1, round(a.prompt_tokens / tokens_per_word(a.url)))
        print("user messages of %d words (about %d tokens)" % (a.prompt_words, a.prompt_tokens))
    levels = [int(x) for x in a.concurrency.split(",")]
    rates = {c: [] for c in levels}
    # a warm-up so that the first measured run does not pay for JIT compilation
    run_load(a.url, 4, 2, 16, a.prompt_words, 99)
    # interleaved rounds, medians: a shared machine's load drifts
    for rnd in range(a.rounds):
        for c in levels:
            rates[c].append(run_load(a.url, c, a.requests, a.max_tokens, a.prompt_words, a.seed + rnd))
    med = {c: statistics.median(r) for c, r in rates.items()}
    print("median aggregate tok/s: " + ", ".join("%d: %.1f" % (c, m) for c, m in med.items()))
    base = med.get(1)
    if base:
        print("speed-up over one stream: " + ", ".join("%d: %.2fx" % (c, m / base) for c, m in med.items()))


if __name__ == "__main__":
    main()
