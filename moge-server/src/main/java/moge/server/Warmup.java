package moge.server;

import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.Model;

/**
 * A few untimed passes before the server says it is ready, as llama-server's warm-up run: they touch every
 * weight page and get the JIT compiling the kernels, which the first requests would otherwise pay for (on the
 * 1 GB dense test model, the first 67-token prompt took 5.6 s against 1.0 s for the next). The shapes are those
 * requests use: a prompt chunk long enough for the matrix-matrix product, a shorter one for the few-token
 * kernels, then single-token decode steps. Token ids are arbitrary: only the work's shape matters.
 */
final class Warmup {
    private Warmup() {
    }

    /** Runs the passes on a cache of its own; returns the milliseconds they took. */
    static long run(Model model, int vocab, int context, int maxBatch) {
        long t0 = System.nanoTime();
        int longChunk = Math.min(64, maxBatch), shortChunk = Math.min(24, maxBatch), steps = 16;
        int positions = Math.min(context, longChunk + shortChunk + steps);
        KvCache cache = KvCache.forContext(model.config, positions, 1, 16, model.kvType());
        KvSequence seq = cache.newSequence();
        Batch b = new Batch(maxBatch);
        int pos = 0;
        for (int chunk : new int[]{longChunk, shortChunk}) {
            b.clear();
            for (int i = 0; i < chunk && pos < positions; i++, pos++) b.add(token(pos, vocab), pos, seq, i == chunk - 1 || pos == positions - 1);
            if (b.size() > 0) model.forward(b);
        }
        for (int i = 0; i < steps && pos < positions; i++, pos++) {
            model.forward(b.clear().add(token(pos, vocab), pos, seq, true));
        }
        seq.release();
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static int token(int pos, int vocab) {
        return (int) ((pos * 7919L + 11) % vocab);
    }
}
