package moge.server;

import moge.JitWatch;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.Model;

/**
 * Untimed passes before the server says it is ready, as llama-server's warm-up run: they touch every weight page
 * and get the JIT compiling the kernels, which the first requests would otherwise pay for (on the 1 GB dense
 * test model, the first 67-token prompt took 5.6 s against 1.0 s for the next). A round has the shapes requests
 * use: prompt chunks of 64, 24 and 8 tokens (the matrix-matrix product, the token-lane and the few-token
 * kernels), then single-token decode steps. A small model's round takes milliseconds, too few for C2 to finish, so rounds
 * repeat until the JIT has been idle for half a second, for at most {@link #REPEAT_NANOS} (a large model's one
 * round is longer than that). Token ids are arbitrary: only the work's shape matters.
 */
final class Warmup {
    private static final long REPEAT_NANOS = 3_000_000_000L, IDLE_NANOS = 500_000_000L;

    private Warmup() {
    }

    /** Runs the passes on a cache of their own; returns the milliseconds they took. */
    static long run(Model model, int vocab, int context, int maxBatch) {
        long t0 = System.nanoTime();
        JitWatch jit = new JitWatch();
        do {
            round(model, vocab, context, maxBatch);
        } while (!jit.idleFor(IDLE_NANOS) && System.nanoTime() - t0 < REPEAT_NANOS);
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static void round(Model model, int vocab, int context, int maxBatch) {
        int[] chunks = {Math.min(64, maxBatch), Math.min(24, maxBatch), Math.min(8, maxBatch)};
        int steps = 16, positions = Math.min(context, chunks[0] + chunks[1] + chunks[2] + steps);
        KvCache cache = KvCache.forContext(model.config, positions, 1, 16, model.kvType());
        KvSequence seq = cache.newSequence();
        Batch b = new Batch(maxBatch);
        int pos = 0;
        for (int chunk : chunks) {
            b.clear();
            for (int i = 0; i < chunk && pos < positions; i++, pos++) b.add(token(pos, vocab), pos, seq, i == chunk - 1 || pos == positions - 1);
            if (b.size() > 0) model.forward(b);
        }
        for (int i = 0; i < steps && pos < positions; i++, pos++) {
            model.forward(b.clear().add(token(pos, vocab), pos, seq, true));
        }
        seq.release();
    }

    private static int token(int pos, int vocab) {
        return (int) ((pos * 7919L + 11) % vocab);
    }
}
