package moge.model;

import moge.tensor.Parallel;

import java.util.SplittableRandom;

/**
 * Manual benchmark (not a test): one layer's attention for decode steps (one token of each of B sequences at
 * position P) over a filled cache, microseconds per step, best of REPS; with B = 0, a prefill instead (one
 * sequence, positions 0..P-1 in one batch, as pp512 runs it). From the repository root, after a build:
 * <pre>
 * CP=moge-cli/target/moge.jar:moge-core/target/moge-core-0.1.0-SNAPSHOT-tests.jar
 * java --add-modules jdk.incubator.vector -cp $CP moge.model.AttentionBench HEADS KV_HEADS HEAD_DIM P B THREADS [REPS]
 * </pre>
 */
public final class AttentionBench {
    public static void main(String[] a) {
        int heads = Integer.parseInt(a[0]), kvHeads = Integer.parseInt(a[1]), d = Integer.parseInt(a[2]);
        int pos = Integer.parseInt(a[3]), B = Integer.parseInt(a[4]), threads = Integer.parseInt(a[5]);
        int reps = a.length > 6 ? Integer.parseInt(a[6]) : 2000;
        ModelConfig c = TestModels.embedded(50, heads * d, 1, heads, kvHeads, d, 64, false, 1e4, false);
        boolean prefill = B == 0;
        if (prefill) B = 1;
        KvCache cache = KvCache.forContext(c, pos + 1, B, 16);
        SplittableRandom r = new SplittableRandom(1);
        Batch batch = new Batch(prefill ? pos : B);
        int kvDim = c.kvDim();
        for (int s = 0; s < B; s++) {
            KvSequence seq = cache.newSequence();
            seq.reserve(pos + 1);
            for (int p = 0; p <= pos; p++) {
                for (int i = 0; i < kvDim; i++) {
                    cache.k[0][cache.offset(seq.slot(p), i / d) + i % d] = (float) r.nextGaussian();
                    cache.v[0][cache.offset(seq.slot(p), i / d) + i % d] = (float) r.nextGaussian();
                }
            }
            if (prefill) {
                for (int p = 0; p < pos; p++) batch.add(1, p, seq, p == pos - 1);
            } else {
                batch.add(1, pos, seq, true);
            }
        }
        int T = batch.size();
        float[] q = new float[T * c.qDim()], out = new float[T * c.qDim()];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        try (Parallel team = new Parallel(threads)) {
            FlashAttention fa = new FlashAttention(c, team.threads());
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < reps; rep++) {
                long t0 = System.nanoTime();
                fa.attend(team, cache, 0, batch, q, out);
                best = Math.min(best, (System.nanoTime() - t0) / 1e3);
            }
            // multiply-adds of q.K and p.V over the keys each query sees (causal in a prefill)
            double macs = 0;
            for (int t = 0; t < T; t++) macs += 2.0 * heads * d * (batch.positions[t] + 1);
            System.out.printf("heads=%d kv=%d d=%d position=%d %s threads=%d: %.1f us per step (best of %d), %.1f GMAC/s%n",
                    heads, kvHeads, d, pos, prefill ? "prefill" : "sequences=" + B, threads, best, reps, macs / best / 1e3);
        }
    }
}
