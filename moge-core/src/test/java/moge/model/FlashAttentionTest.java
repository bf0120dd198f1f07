package moge.model;

import moge.tensor.Parallel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The tiled attention against a float64 softmax over the same cache, with mixed sequences in one batch. */
class FlashAttentionTest {
    @ParameterizedTest(name = "heads={0} kv={1} d={2} threads={3} block={4}")
    @CsvSource({"4,1,16,1,16", "4,4,24,2,16", "6,2,8,2,16", "20,1,16,2,16", "33,3,12,1,16", "16,4,128,2,16", "2,1,4,2,16",
            "6,2,8,2,4", "16,4,32,2,5", "4,1,16,1,32", "6,2,10,2,16", "3,1,6,1,5"})
    void matchesPlainSoftmax(int heads, int kvHeads, int d, int threads, int blockSize) {
        ModelConfig c = TestModels.embedded(50, 32, 1, heads, kvHeads, d, 40, false, 1e4, false);
        KvCache cache = KvCache.forContext(c, 80, 3, blockSize);
        SplittableRandom r = new SplittableRandom(heads * 100L + d);
        Batch batch = mixedBatch(cache, 7);
        int kvDim = c.kvDim();
        for (KvSequence s : new KvSequence[]{batch.seqs[0], batch.seqs[23], batch.seqs[24]}) {
            for (int p = 0; p < s.capacity(); p++) {
                for (int i = 0; i < kvDim; i++) {
                    cache.k[0][cache.offset(s.slot(p), i / d) + i % d] = (float) r.nextGaussian();
                    cache.v[0][cache.offset(s.slot(p), i / d) + i % d] = (float) r.nextGaussian();
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
                double[] ref = PlainAttention.head(c, cache, s, n, q, t, h, h / group);
                for (int i = 0; i < d; i++) {
                    assertThat((double) out[t * qDim + h * d + i]).as("t=%d h=%d i=%d", t, h, i).isCloseTo(ref[i],
                            org.assertj.core.data.Offset.offset(2e-5 * (1 + Math.abs(ref[i]))));
                }
            }
        }
    }

    /**
     * Three new sequences in one batch: 40 cached positions then 23 new ones; one decode step at position
     * {@code decodeAt}; a fresh 2-token prompt. Their blocks are reserved (slots differ between the sequences).
     */
    private static Batch mixedBatch(KvCache cache, int decodeAt) {
        KvSequence a = cache.newSequence(), one = cache.newSequence(), fresh = cache.newSequence();
        Batch batch = new Batch(64);
        for (int p = 40; p < 63; p++) batch.add(1, p, a, true);
        batch.add(1, decodeAt, one, true);
        batch.add(1, 0, fresh, true);
        batch.add(1, 1, fresh, true);
        a.reserve(63);
        one.reserve(decodeAt + 1);
        fresh.reserve(2);
        return batch;
    }

    /**
     * A decode step (one token) gives the bits the same query gets inside a run of several tokens of its
     * sequence, as speculative verification relies on.
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
                cache.k[0][cache.offset(seq.slot(p), i / d) + i % d] = (float) r.nextGaussian();
                cache.v[0][cache.offset(seq.slot(p), i / d) + i % d] = (float) r.nextGaussian();
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

    /**
     * A float16 cache gives the bits a float32 cache gives when it holds the same (rounded) values: the blocks
     * are widened exactly, and the kernels then run the same operations in the same order.
     */
    @ParameterizedTest(name = "heads={0} kv={1} d={2} threads={3} block={4}")
    @CsvSource({"4,1,16,1,16", "16,4,128,2,16", "6,2,8,2,16", "33,3,12,1,16", "6,2,8,2,6"})
    void float16CacheEqualsAFloat32CacheOfTheRoundedValues(int heads, int kvHeads, int d, int threads, int blockSize) {
        ModelConfig c = TestModels.embedded(50, 32, 1, heads, kvHeads, d, 40, false, 1e4, false);
        KvCache c32 = KvCache.forContext(c, 80, 3, blockSize, KvType.F32), c16 = KvCache.forContext(c, 80, 3, blockSize, KvType.F16);
        assertThat(c16.bytes() * 2).isEqualTo(c32.bytes());
        SplittableRandom r = new SplittableRandom(heads * 7L + d);
        Batch b32 = mixedBatch(c32, 19), b16 = mixedBatch(c16, 19);
        int n = c16.k16[0].length;
        for (int i = 0; i < n; i++) {
            c16.k16[0][i] = Float.floatToFloat16((float) (3 * r.nextGaussian()));
            c16.v16[0][i] = Float.floatToFloat16((float) r.nextGaussian());
            c32.k[0][i] = Float.float16ToFloat(c16.k16[0][i]);
            c32.v[0][i] = Float.float16ToFloat(c16.v16[0][i]);
        }
        int T = b32.size(), qDim = c.qDim();
        float[] q = new float[T * qDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) (2 * r.nextGaussian());
        float[] out32 = new float[T * qDim], out16 = new float[T * qDim];
        try (Parallel team = new Parallel(threads)) {
            FlashAttention fa = new FlashAttention(c, team.threads());
            fa.attend(team, c32, 0, b32, q, out32);
            fa.attend(team, c16, 0, b16, q, out16);
        }
        assertThat(out16).containsExactly(out32);
    }

    @Test
    void float16CacheStoresRoundedValuesAndCopiesBlocks() {
        ModelConfig c = TestModels.embedded(50, 32, 2, 4, 2, 8, 40, false, 1e4, false);
        KvCache cache = new KvCache(c, 3, 4, KvType.F16);
        int kvDim = cache.kvDim, n = 4 * kvDim;
        float[] k = new float[n], v = new float[n];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < n; i++) {
            k[i] = (float) (100 * r.nextGaussian());
            v[i] = (float) r.nextGaussian();
        }
        for (int p = 0; p < 4; p++) cache.write(1, 4 + p, k, v, p * kvDim);
        cache.copyBlock(1, 2);
        int d = cache.headDim;
        for (int p = 0; p < 4; p++) {
            for (int i = 0; i < kvDim; i++) {
                int at = cache.offset(4 + p, i / d) + i % d, copy = cache.offset(8 + p, i / d) + i % d, src = p * kvDim + i;
                assertThat(cache.key(1, at)).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(k[src])));
                assertThat(cache.value(1, at)).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(v[src])));
                assertThat(cache.key(1, copy)).isEqualTo(cache.key(1, at));
                assertThat(cache.value(1, copy)).isEqualTo(cache.value(1, at));
                assertThat(cache.key(0, at)).isZero();
            }
        }
        // within a block, one KV head's positions lie next to each other, then the next head's
        assertThat(cache.offset(5, 0)).isEqualTo(cache.offset(4, 0) + d);
        assertThat(cache.offset(4, 1)).isEqualTo(cache.offset(4, 0) + 4 * d);
        assertThat(cache.offset(8, 0)).isEqualTo(2 * 4 * kvDim);
        assertThat(Math.abs(cache.key(1, cache.offset(4, 0)) - k[0])).isLessThanOrEqualTo(Math.abs(k[0]) / 2048);
    }
}
