package moge.format.gguf;

import moge.format.DType;
import moge.tensor.GgmlQuants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q4_K, Q5_K, Q6_K and Q5_0 encoding: decoded by both of moge's decoders (the converter's and the kernels' reference),
 * every value lies within the bound {@link KQuantizer} derives, and the error is well below the 32-block
 * types of similar size on the same data.
 */
class KQuantizerTest {
    /** Shapes of 256-value blocks that have broken quantizers before: degenerate, one-sided, spiky. */
    enum Data {
        NORMAL, HEAVY_TAILED, UNIFORM, ALL_ZERO, CONSTANT, NEGATIVE_CONSTANT, ONE_OUTLIER, NEGATIVE_ONLY, POSITIVE_ONLY,
        ZERO_SUB_BLOCKS, MIXED_SCALES, TINY;

        float[] make(int blocks, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            float[] x = new float[256 * blocks];
            DoubleSupplier g = r::nextGaussian;
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) switch (this) {
                    case NORMAL, ONE_OUTLIER -> 0.02 * g.getAsDouble();
                    case HEAVY_TAILED -> g.getAsDouble() * Math.exp(g.getAsDouble());
                    case UNIFORM -> r.nextDouble(-1, 1);
                    case ALL_ZERO -> 0;
                    case CONSTANT -> 0.75;
                    case NEGATIVE_CONSTANT -> -3.5;
                    case NEGATIVE_ONLY -> -Math.abs(g.getAsDouble()) - 0.5;
                    case POSITIVE_ONLY -> r.nextDouble(2, 3);
                    case ZERO_SUB_BLOCKS -> (i / 16) % 3 == 0 ? 0 : g.getAsDouble();
                    // sub-blocks a thousand times apart in one super-block: the small ones get few scale bits
                    case MIXED_SCALES -> g.getAsDouble() * ((i / 32) % 2 == 0 ? 1 : 1e-3);
                    case TINY -> 1e-6 * g.getAsDouble();
                };
            }
            if (this == ONE_OUTLIER) for (int b = 0; b < blocks; b++) x[256 * b + r.nextInt(256)] = (b % 2 == 0 ? 1 : -1) * 0.5f;
            return x;
        }
    }

    static float[] decodeBoth(DType t, byte[] bytes, int n) {
        float[] a = new float[n], b = new float[n];
        GgmlQuantizer.decode(t, MemorySegment.ofArray(bytes), 0, a, 0, n);
        GgmlQuants.dequantize(t, MemorySegment.ofArray(bytes), 0, b, 0, n);
        assertThat(a).as("%s: the converter's and the kernels' reference decoders agree", t).containsExactly(b);
        return a;
    }

    static float half(byte[] b, int at) {
        return Float.float16ToFloat((short) ((b[at] & 0xFF) | (b[at + 1] << 8)));
    }

    record Trip(float[] x, byte[] q, float[] y) {
    }

    static Trip roundTrip(DType t, Data data, int blocks, long seed) {
        float[] x = data.make(blocks, seed);
        byte[] q = GgmlQuantizer.encode(t, x, 0, x.length);
        assertThat(q).hasSize((int) t.bytesFor(x.length));
        return new Trip(x, q, decodeBoth(t, q, x.length));
    }

    static float maxError(Trip t, int o, int n) {
        float e = 0;
        for (int l = 0; l < n; l++) e = Math.max(e, Math.abs(t.y()[o + l] - t.x()[o + l]));
        return e;
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void q4_KAndQ5_KStayWithinTheirBound(Data data) {
        affineWithinBound(DType.Q4_K, 15, data);
        affineWithinBound(DType.Q5_K, 31, data);
    }

    private static void affineWithinBound(DType type, int top, Data data) {
        Trip t = roundTrip(type, data, 8, 11);
        for (int b = 0; b < 8; b++) {
            int bb = type.blockBytes * b;
            float d = half(t.q(), bb), dmin = half(t.q(), bb + 2), maxStep = 0;
            for (int j = 0; j < 8; j++) {
                int o = 256 * b + 32 * j;
                float lo = 0, hi = -Float.MAX_VALUE, err = maxError(t, o, 32);
                for (int l = 0; l < 32; l++) {
                    lo = Math.min(lo, t.x()[o + l]);
                    hi = Math.max(hi, t.x()[o + l]);
                }
                float step = (hi - lo) / top;
                maxStep = Math.max(maxStep, step);
                // one min/max step (the refit's limit), plus top codes times half a scale unit and half a min
                // unit for the 6-bit scales; fp16 rounding of the products is far below the 1e-6 relative slack
                double bound = step + top * 0.5 * d + 0.5 * dmin + 1e-6 * Math.max(Math.abs(lo), Math.abs(hi));
                assertThat((double) err).as("%s %s block %d sub-block %d (step %g, d %g, dmin %g)", type, data, b, j, step, d, dmin)
                        .isLessThanOrEqualTo(bound);
            }
            // the super-block scale follows the largest sub-block step (a refit may widen a step, but every value
            // stays within one min/max step, so not by much), else the bound above would say little
            assertThat((double) d * 63).as("%s %s block %d d", type, data, b).isLessThanOrEqualTo(2 * maxStep + 0x1p-24 * 63);
        }
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void q6_KStaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.Q6_K, data, 8, 12);
        for (int b = 0; b < 8; b++) {
            float d = half(t.q(), 210 * b + 208);
            for (int j = 0; j < 16; j++) {
                int o = 256 * b + 16 * j;
                float amax = 0, err = maxError(t, o, 16);
                for (int l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(t.x()[o + l]));
                // one step amax/32 (the refit's limit; the min/max grid itself errs at most half a step except
                // where +32 clamps to 31), plus 32 codes times half a unit of the int8 scale
                double bound = amax / 32 + 16 * d + 1e-6 * amax;
                assertThat((double) err).as("%s block %d sub-block %d (amax %g, d %g)", data, b, j, amax, d).isLessThanOrEqualTo(bound);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void q5_0StaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.Q5_0, data, 8, 13);
        for (int b = 0; b < 64; b++) {
            float d = half(t.q(), 22 * b), amax = 0, err = maxError(t, 32 * b, 32);
            for (int l = 0; l < 32; l++) amax = Math.max(amax, Math.abs(t.x()[32 * b + l]));
            // one step amax/16 (the refit's limit), plus 16 codes times the fp16 rounding of the step (half an
            // ulp: 2^-11 of it, or 2^-25 below fp16's normal range)
            double bound = amax / 16 + 16 * Math.max(Math.abs(d) * 0x1p-11, 0x1p-25) + 1e-6 * amax;
            assertThat((double) err).as("%s block %d (amax %g, d %g)", data, b, amax, d).isLessThanOrEqualTo(bound);
        }
    }

    /** Q4_1 / Q5_1: the block's range in levels - 1 steps; a value errs by half a step plus the fp16 rounding of d and m. */
    @ParameterizedTest
    @EnumSource(Data.class)
    void q4_1AndQ5_1StayWithinTheirBound(Data data) {
        for (DType type : new DType[]{DType.Q4_1, DType.Q5_1}) {
            int levels = type == DType.Q4_1 ? 16 : 32;
            Trip t = roundTrip(type, data, 8, 17);
            for (int b = 0; b < 64; b++) {
                float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
                for (int l = 0; l < 32; l++) {
                    min = Math.min(min, t.x()[32 * b + l]);
                    max = Math.max(max, t.x()[32 * b + l]);
                }
                float d = half(t.q(), type.blockBytes * b), m = half(t.q(), type.blockBytes * b + 2);
                // half an fp16 ulp of d for each of up to levels - 1 steps, and of m (2^-25 below fp16's normal range)
                double ulp = (levels - 1) * Math.max((max - min) / (levels - 1) * 0x1p-11, 0x1p-25)
                        + Math.max(Math.abs(min) * 0x1p-11, 0x1p-25) + 1e-6 * (max - min);
                double bound = Math.abs(d) / 2 + Math.abs(m - min) + ulp;
                assertThat((double) maxError(t, 32 * b, 32)).as("%s %s block %d (d %g)", type, data, b, d).isLessThanOrEqualTo(bound);
            }
        }
    }

    @Test
    void exactGridsComeBackExactly() {
        // every sub-block already on a grid d*sc*q - dmin*m whose super-block scales are exact in fp16
        // (largest scale 63 units of 2^-8, largest min 63 units of 2^-6): nothing may be lost
        int[] sc = {63, 21, 42}, mins = {0, 63, 21, 42};
        float[] x = new float[256];
        for (int i = 0; i < 256; i++) {
            int j = i / 32;
            x[i] = sc[j % 3] * 0x1p-8f * (i % 16) - mins[j % 4] * 0x1p-6f;
        }
        assertThat(decodeBoth(DType.Q4_K, GgmlQuantizer.encode(DType.Q4_K, x, 0, 256), 256)).containsExactly(x);
        // Q5_K: the same scales and mins with codes 0..31
        for (int i = 0; i < 256; i++) x[i] = sc[i / 32 % 3] * 0x1p-8f * (i % 32) - mins[i / 32 % 4] * 0x1p-6f;
        assertThat(decodeBoth(DType.Q5_K, GgmlQuantizer.encode(DType.Q5_K, x, 0, 256), 256)).containsExactly(x);
        // Q5_0: codes -16 .. 15 in each block (the -16 sets the scale), d = 2^-7 and 3 * 2^-9
        float[] w = new float[64];
        for (int i = 0; i < 64; i++) w[i] = (i < 32 ? 0x1p-7f : 3 * 0x1p-9f) * (i % 32 - 16);
        assertThat(decodeBoth(DType.Q5_0, GgmlQuantizer.encode(DType.Q5_0, w, 0, 64), 64)).containsExactly(w);
        // Q4_1 / Q5_1: codes 0 .. levels - 1 from a min of -1 in steps of 2^-5 (exact in fp16)
        for (int levels : new int[]{16, 32}) {
            DType t = levels == 16 ? DType.Q4_1 : DType.Q5_1;
            for (int i = 0; i < 64; i++) w[i] = -1 + 0x1p-5f * (i % levels);
            assertThat(decodeBoth(t, GgmlQuantizer.encode(t, w, 0, 64), 64)).as("%s", t).containsExactly(w);
        }
        // Q6_K: scales 127 and 50 units of 2^-10, codes -32, -28, ..., 28 (the -32 sets each sub-block's scale)
        float[] z = new float[256];
        for (int i = 0; i < 256; i++) z[i] = ((i / 16) % 2 == 0 ? 127 : 50) * 0x1p-10f * (-32 + 4 * (i % 16));
        assertThat(decodeBoth(DType.Q6_K, GgmlQuantizer.encode(DType.Q6_K, z, 0, 256), 256)).containsExactly(z);
    }

    static double rms(DType t, float[] x) {
        float[] y = decodeBoth(t, GgmlQuantizer.encode(t, x, 0, x.length), x.length);
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (double) (y[i] - x[i]) * (y[i] - x[i]);
        return Math.sqrt(s / x.length);
    }

    @ParameterizedTest
    @EnumSource(value = Data.class, names = {"NORMAL", "HEAVY_TAILED", "UNIFORM", "POSITIVE_ONLY"})
    void kQuantsBeatTheBlockTypesOfTheirSize(Data data) {
        float[] x = data.make(64, 5);
        double q40 = rms(DType.Q4_0, x), q4k = rms(DType.Q4_K, x), q6k = rms(DType.Q6_K, x), q80 = rms(DType.Q8_0, x);
        double q5k = rms(DType.Q5_K, x), q50 = rms(DType.Q5_0, x);
        System.out.printf("RMS error on %s: Q4_0 %.4g, Q4_K %.4g (%.3f of Q4_0), Q5_0 %.4g, Q5_K %.4g (%.3f of Q5_0, %.3f of Q4_K), Q6_K %.4g, Q8_0 %.4g (Q6_K/Q8_0 %.2f)%n",
                data, q40, q4k, q4k / q40, q50, q5k, q5k / q50, q5k / q4k, q6k, q80, q6k / q80);
        // Q4_K (4.5 bits) against Q4_0 (4.5 bits): the per-sub-block min and the refit pay off. Measured 0.83
        // (normal), 0.75 (heavy tails), 0.85 (uniform: the min/max grid is already right there), 0.48 (one-sided)
        assertThat(q4k).isLessThan(0.88 * q40);
        // Q6_K (6.56 bits) against Q8_0 (8.5 bits): two bits fewer cost about 4x (measured 2.9-3.7), and it is
        // far below Q4_0 (measured 0.21-0.22)
        assertThat(q6k).isLessThan(4.5 * q80).isLessThan(0.3 * q40);
        // one bit more halves the step: Q5_K about half of Q4_K's error, Q5_0 about half of Q4_0's
        assertThat(q5k).isLessThan(0.6 * q4k).isLessThan(q50).isGreaterThan(q6k);
        assertThat(q50).isLessThan(0.6 * q40);
    }
}
