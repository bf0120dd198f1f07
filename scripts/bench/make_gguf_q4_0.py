#!/usr/bin/env python3
"""make_gguf.py (shared/peer) with Q4_0 weights instead of Q8_0, same shapes, names, metadata and seed.

make_gguf.py writes Q8_0 or F32 only; this wrapper imports it unchanged and swaps the block type:
block_q4_0 = fp16 d + 16 bytes of nibbles (value = d * (q - 8)), random nibbles with a per-block scale so
that the weights' standard deviation is about --w-std, as make_gguf.py does for Q8_0.
usage: make_gguf_q4_0.py --peer-dir DIR [make_gguf.py options...]
"""
import sys

import numpy as np


def main():
    args = sys.argv[1:]
    if "--peer-dir" not in args:
        sys.exit("make_gguf_q4_0.py: --peer-dir DIR (the folder holding make_gguf.py) is required")
    i = args.index("--peer-dir")
    peer = args[i + 1]
    del args[i:i + 2]
    sys.path.insert(0, peer)
    import make_gguf as mg

    q4_0, ftype_q4_0, block = 2, 2, 2 + 16

    def q4_0_random(rng, n, std, out, chunk_blocks=1 << 21):
        nb = n // 32
        base = std / 4.61  # std of a uniform integer in [-8, 7]
        blk = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
        done = 0
        while done < nb:
            m = min(chunk_blocks, nb - done)
            a = np.empty(m, dtype=blk)
            a["qs"] = np.frombuffer(rng.bytes(m * 16), dtype=np.uint8).reshape(m, 16)
            a["d"] = (base * rng.uniform(0.75, 1.25, size=m)).astype("<f2")
            out.write(a.tobytes())
            done += m

    # make_gguf.py reads these module globals when it runs: the Q8_0 code path now writes Q4_0 blocks
    mg.GGML_Q8_0 = q4_0
    mg.Q8_0_BLOCK_BYTES = block
    mg.LLAMA_FTYPE_MOSTLY_Q8_0 = ftype_q4_0
    mg.q8_0_random = q4_0_random
    sys.argv = [sys.argv[0]] + args
    mg.main()


if __name__ == "__main__":
    main()
