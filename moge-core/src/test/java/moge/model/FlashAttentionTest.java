package moge.model;

import moge.tensor.Parallel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The tiled attention against a float64 softmax over the same cache, with mixed sequences in one batch. */
class FlashAttentionTest {
    @ParameterizedTest(name = "heads={0} kv={1} d={2} threads={3}")
    @CsvSource({"4,1,16,1", "4,4,24,2", "6,2,8,2", "20,1,16,2", "33,3,12,1", "16,4,128,2", "2,1,4,2"})
    void matchesPlainSoftmax(int heads, int kvHeads, int d, int threads) {
        ModelConfig c = TestModels.embedded(50, 32, 1, heads, kvHeads, d, 40, false, 1e4, false);
        KvCache cache = KvCache.forContext(c, 80, 3, 16);
        SplittableRandom r = new SplittableRandom(heads * 100L + d);
        KvSequence a = cache.newSequence(), bSeq = cache.newSequence(), cSeq = cache.newSequence();
        // a: 40 cached positions then 23 new ones; b: one decode step at position 7; c: a fresh 2-token prompt
        Batch batch = new Batch(64);
        for (int p = 40; p < 63; p++) batch.add(1, p, a, true);
        batch.add(1, 7, bSeq, true);
        batch.add(1, 0, cSeq, true);
        batch.add(1, 1, cSeq, true);
        a.reserve(63);
        bSeq.reserve(8);
        cSeq.reserve(2);
        int kvDim = c.kvDim();
        for (KvSequence s : new KvSequence[]{a, bSeq, cSeq}) {
            for (int p = 0; p < s.capacity(); p++) {
                for (int i = 0; i < kvDim; i++) {
                    cache.k[0][s.slot(p) * kvDim + i] = (float) r.nextGaussian();
                    cache.v[0][s.slot(p) * kvDim + i] = (float) r.nextGaussian();
                }
            }
        }
        int T = batch.size(), qDim = c.qDim();
        float[] q = new float[T * qDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) (2 * r.nextGaussian());
        float[] out = new float[T * qDim];
        try (Parallel team = new Parallel(threads)) {
            new FlashAttention(c, team.threads()).attend(team, cache, 0, batch, q, out);
        }
        int group = heads / kvHeads;
        for (int t = 0; t < T; t++) {
            KvSequence s = batch.seqs[t];
            int n = batch.positions[t] + 1;
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                double[] w = new double[n];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += (double) q[t * qDim + h * d + i] * cache.k[0][s.slot(j) * kvDim + kh * d + i];
                    w[j] = dot / Math.sqrt(d);
                    max = Math.max(max, w[j]);
                }
                for (int j = 0; j < n; j++) sum += w[j] = Math.exp(w[j] - max);
                for (int i = 0; i < d; i++) {
                    double ref = 0;
                    for (int j = 0; j < n; j++) ref += w[j] / sum * cache.v[0][s.slot(j) * kvDim + kh * d + i];
                    assertThat((double) out[t * qDim + h * d + i]).as("t=%d h=%d i=%d", t, h, i).isCloseTo(ref,
                            org.assertj.core.data.Offset.offset(2e-5 * (1 + Math.abs(ref))));
                }
            }
        }
    }

    /**
     * A decode step (one token: a tile of one vector of lanes) gives the bits the same query gets inside a
     * tile of several tokens (two vectors of lanes), as speculative verification relies on.
     */
    @ParameterizedTest(name = "heads={0} kv={1} d={2} position={3}")
    @CsvSource({"16,4,128,0", "16,4,128,5", "16,4,128,16", "16,4,64,37", "10,2,32,70", "8,8,16,23", "32,4,16,50"})
    void oneTokenAloneEqualsTheSameTokenInATile(int heads, int kvHeads, int d, int position) {
        ModelConfig c = TestModels.embedded(50, 32, 1, heads, kvHeads, d, 40, false, 1e4, false);
        KvCache cache = KvCache.forContext(c, 80, 1, 16);
        KvSequence seq = cache.newSequence();
        seq.reserve(position + 4);
        SplittableRandom r = new SplittableRandom(31L * position + d);
        int kvDim = c.kvDim(), qDim = c.qDim();
        for (int p = 0; p < seq.capacity(); p++) {
            for (int i = 0; i < kvDim; i++) {
                cache.k[0][seq.slot(p) * kvDim + i] = (float) r.nextGaussian();
                cache.v[0][seq.slot(p) * kvDim + i] = (float) r.nextGaussian();
            }
        }
        float[] q = new float[4 * qDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) (2 * r.nextGaussian());
        Batch many = new Batch(4);
        for (int t = 0; t < 4; t++) many.add(1, position + t, seq, true);
        float[] outMany = new float[4 * qDim];
        FlashAttention fa = new FlashAttention(c, 1);
        try (Parallel team = new Parallel(1)) {
            fa.attend(team, cache, 0, many, q, outMany);
            for (int t = 0; t < 4; t++) {
                Batch one = new Batch(1);
                one.add(1, position + t, seq, true);
                float[] outOne = new float[qDim];
                fa.attend(team, cache, 0, one, java.util.Arrays.copyOfRange(q, t * qDim, (t + 1) * qDim), outOne);
                assertThat(outOne).as("token %d", t).containsExactly(java.util.Arrays.copyOfRange(outMany, t * qDim, (t + 1) * qDim));
            }
        }
    }

    @Test
    void expIsAccurateOverTheUsedRange() {
        int n = 4096;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = -87f + 88f * i / n;
        float[] x = a.clone();
        FlashAttention.exp(a, 0, n);
        for (int i = 0; i < n; i++) {
            double ref = Math.exp(x[i]);
            assertThat((double) a[i]).as("exp(%s)", x[i]).isCloseTo(ref, org.assertj.core.data.Offset.offset(ref * 3e-7));
        }
    }
}
