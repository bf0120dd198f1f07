package moge.model;

import moge.tensor.Parallel;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decode path of the attention (runs of up to {@link FlashAttention#SINGLE_RUN} tokens of a sequence)
 * against a float64 softmax: many sequences at positions on both sides of the softmax and cache block edges,
 * head dimensions that are not a multiple of the vector length, groups of 1-5 heads, float32 and float16
 * caches; and a token's bits do not depend on what else is in the batch.
 */
class DecodeAttentionTest {
    private static final int[] POSITIONS = {0, 1, 7, 8, 15, 16, 17, 31, 33, 70};

    @ParameterizedTest(name = "heads={0} kv={1} d={2} block={3} type={4} threads={5}")
    @CsvSource({"12,6,128,16,F32,2", "10,2,12,16,F32,2", "5,5,4,5,F32,1", "15,3,24,4,F16,2", "8,2,64,16,F16,1", "20,4,9,6,F32,2"})
    void matchesPlainSoftmaxAndIgnoresTheRestOfTheBatch(int heads, int kvHeads, int d, int blockSize, KvType type, int threads) {
        ModelConfig c = TestModels.embedded(50, 32, 1, heads, kvHeads, d, 40, false, 1e4, false);
        int S = POSITIONS.length;
        KvCache cache = KvCache.forContext(c, 80, S, blockSize, type);
        SplittableRandom r = new SplittableRandom(heads * 31L + d * 7L + blockSize);
        KvSequence[] seqs = new KvSequence[S];
        int kvDim = c.kvDim();
        for (int s = 0; s < S; s++) {
            seqs[s] = cache.newSequence();
            seqs[s].reserve(POSITIONS[s] + 1);
            for (int p = 0; p <= POSITIONS[s]; p++) {
                float[] k = new float[kvDim], v = new float[kvDim];
                for (int i = 0; i < kvDim; i++) {
                    k[i] = (float) (2 * r.nextGaussian());
                    v[i] = (float) r.nextGaussian();
                }
                cache.write(0, seqs[s].slot(p), k, v, 0);
            }
        }
        Batch all = new Batch(S);
        for (int s = 0; s < S; s++) all.add(1, POSITIONS[s], seqs[s], true);
        int qDim = c.qDim(), group = heads / kvHeads;
        float[] q = new float[S * qDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) (2 * r.nextGaussian());
        float[] out = new float[S * qDim];
        try (Parallel team = new Parallel(threads)) {
            FlashAttention fa = new FlashAttention(c, team.threads());
            fa.attend(team, cache, 0, all, q, out);
            for (int s = 0; s < S; s++) {
                int n = POSITIONS[s] + 1;
                for (int h = 0; h < heads; h++) {
                    double[] ref = PlainAttention.head(c, cache, seqs[s], n, q, s, h, h / group);
                    for (int i = 0; i < d; i++) {
                        assertThat((double) out[s * qDim + h * d + i]).as("position=%d h=%d i=%d", POSITIONS[s], h, i)
                                .isCloseTo(ref[i], Offset.offset(2e-5 * (1 + Math.abs(ref[i]))));
                    }
                }
                // the same token alone: the same bits (its KV heads are split differently over the team, too)
                Batch one = new Batch(1);
                one.add(1, POSITIONS[s], seqs[s], true);
                float[] alone = new float[qDim];
                fa.attend(team, cache, 0, one, java.util.Arrays.copyOfRange(q, s * qDim, (s + 1) * qDim), alone);
                assertThat(alone).as("position %d alone", POSITIONS[s]).containsExactly(java.util.Arrays.copyOfRange(out, s * qDim, (s + 1) * qDim));
            }
        }
    }
}
