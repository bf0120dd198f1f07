package moge.format.gguf;

import moge.format.DType;
import moge.format.gguf.KQuantizerTest.Data;
import moge.format.gguf.KQuantizerTest.Trip;
import moge.tensor.GgmlQuants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static moge.format.gguf.KQuantizerTest.decodeBoth;
import static moge.format.gguf.KQuantizerTest.half;
import static moge.format.gguf.KQuantizerTest.maxError;
import static moge.format.gguf.KQuantizerTest.rms;
import static moge.format.gguf.KQuantizerTest.roundTrip;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q3_K, Q2_K, IQ4_NL and IQ4_XS encoding ({@link LowBitQuantizer}): decoded by both of moge's decoders, every value
 * within the bound the class derives, exact grids kept exactly, and errors in the order of their sizes.
 */
class LowBitQuantizerTest {
    private static float amax(float[] x, int o, int n) {
        float m = 0;
        for (int l = 0; l < n; l++) m = Math.max(m, Math.abs(x[o + l]));
        return m;
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void q3_KStaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.Q3_K, data, 8, 21);
        for (int b = 0; b < 8; b++) {
            float d = Math.abs(half(t.q(), 110 * b + 108)), maxAmax = 0;
            for (int g = 0; g < 16; g++) {
                int o = 256 * b + 16 * g;
                float amax = amax(t.x(), o, 16);
                maxAmax = Math.max(maxAmax, amax);
                // one min/max step amax/4 (the refit's limit), plus 4 codes times a unit of the 6-bit scale
                double bound = amax / 4 + 4 * d + 1e-6 * amax;
                assertThat((double) maxError(t, o, 16)).as("%s block %d group %d (amax %g, d %g)", data, b, g, amax, d).isLessThanOrEqualTo(bound);
            }
            // d follows the largest group scale, else the bound above would say little
            assertThat((double) d * 32).as("%s block %d d", data, b).isLessThanOrEqualTo(2 * maxAmax / 4 + 0x1p-24 * 32);
        }
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void q2_KStaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.Q2_K, data, 8, 24);
        for (int b = 0; b < 8; b++) {
            float d = half(t.q(), 84 * b + 80), dmin = half(t.q(), 84 * b + 82), maxStep = 0;
            assertThat(d).isGreaterThanOrEqualTo(0f);
            assertThat(dmin).isGreaterThanOrEqualTo(0f);
            for (int g = 0; g < 16; g++) {
                int o = 256 * b + 16 * g;
                float lo = 0, hi = -Float.MAX_VALUE;
                for (int l = 0; l < 16; l++) {
                    lo = Math.min(lo, t.x()[o + l]);
                    hi = Math.max(hi, t.x()[o + l]);
                }
                float step = (hi - lo) / 3;
                maxStep = Math.max(maxStep, step);
                // one min/max step (the refit's limit), plus 3 codes times half a unit of the 4-bit scale and half
                // a unit of the 4-bit min
                double bound = step + 1.5 * d + 0.5 * dmin + 1e-6 * Math.max(Math.abs(lo), Math.abs(hi));
                assertThat((double) maxError(t, o, 16)).as("%s block %d group %d (step %g, d %g, dmin %g)", data, b, g, step, d, dmin)
                        .isLessThanOrEqualTo(bound);
            }
            // d follows the largest group step, else the bound above would say little
            assertThat((double) d * 15).as("%s block %d d", data, b).isLessThanOrEqualTo(2 * maxStep + 0x1p-24 * 15);
        }
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void iq4_NLStaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.IQ4_NL, data, 8, 22);
        for (int b = 0; b < 64; b++) {
            float d = Math.abs(half(t.q(), 18 * b)), amax = amax(t.x(), 32 * b, 32);
            // the largest gap of the levels is 24, and 113..127 is 14: the min/max scale amax/127 errs by at most
            // 14 of its units; fp16 rounding of the scale moves a level by up to 127 times half an ulp
            double bound = 14 * amax / 127 + 127 * Math.max(d * 0x1p-10, 0x1p-25) + 1e-6 * amax;
            assertThat((double) maxError(t, 32 * b, 32)).as("%s block %d (amax %g, d %g)", data, b, amax, d).isLessThanOrEqualTo(bound);
        }
    }

    @ParameterizedTest
    @EnumSource(Data.class)
    void iq4_XSStaysWithinItsBound(Data data) {
        Trip t = roundTrip(DType.IQ4_XS, data, 8, 23);
        for (int b = 0; b < 8; b++) {
            float d = Math.abs(half(t.q(), 136 * b));
            for (int j = 0; j < 8; j++) {
                int o = 256 * b + 32 * j;
                float amax = amax(t.x(), o, 32);
                // IQ4_NL's bound with the 6-bit block scale in place of fp16's: within a unit d of the float scale
                double bound = 14 * amax / 127 + 127 * d + 1e-6 * amax;
                assertThat((double) maxError(t, o, 32)).as("%s block %d sub-block %d (amax %g, d %g)", data, b, j, amax, d).isLessThanOrEqualTo(bound);
            }
        }
    }

    @Test
    void exactGridsComeBackExactly() {
        // Q3_K: group scales 32, 10, 21, 5 units of 2^-8 (the 32 sets d), codes -4..3 with a -4 in every group
        int[] sc = {32, 10, 21, 5};
        float[] x = new float[256];
        for (int i = 0; i < 256; i++) x[i] = sc[i / 16 % 4] * 0x1p-8f * (i % 8 - 4);
        assertThat(decodeBoth(DType.Q3_K, GgmlQuantizer.encode(DType.Q3_K, x, 0, 256), 256)).containsExactly(x);
        // Q2_K: group scales 15, 7, 3, 12 units of 2^-6 (the 15 sets d), mins 0, 15, 5, 9 units of 2^-7 (the 15 sets
        // dmin), every code 0..3 in every group
        int[] s2 = {15, 7, 3, 12}, m2 = {0, 15, 5, 9};
        for (int i = 0; i < 256; i++) x[i] = s2[i / 16 % 4] * 0x1p-6f * (i % 4) - m2[i / 16 % 4] * 0x1p-7f;
        assertThat(decodeBoth(DType.Q2_K, GgmlQuantizer.encode(DType.Q2_K, x, 0, 256), 256)).containsExactly(x);
        // IQ4_NL: every level once and again, d = 2^-6 and 3 * 2^-9 (the -127 sets each block's scale)
        float[] w = new float[64];
        for (int i = 0; i < 64; i++) w[i] = (i < 32 ? 0x1p-6f : 3 * 0x1p-9f) * GgmlQuants.iq4nl(i % 16);
        assertThat(decodeBoth(DType.IQ4_NL, GgmlQuantizer.encode(DType.IQ4_NL, w, 0, 64), 64)).containsExactly(w);
        // IQ4_XS: block scales -32, 7, -5, 31, ... units of 2^-8 (the -32 sets d), every level in every block
        int[] ls = {-32, 7, -5, 31, 1, -1, 16, 2};
        for (int i = 0; i < 256; i++) x[i] = ls[i / 32] * 0x1p-8f * GgmlQuants.iq4nl(i % 16);
        assertThat(decodeBoth(DType.IQ4_XS, GgmlQuantizer.encode(DType.IQ4_XS, x, 0, 256), 256)).containsExactly(x);
    }

    @ParameterizedTest
    @EnumSource(value = Data.class, names = {"NORMAL", "HEAVY_TAILED", "UNIFORM", "POSITIVE_ONLY"})
    void errorsFollowTheBitsAWeight(Data data) {
        float[] x = data.make(64, 5);
        double q40 = rms(DType.Q4_0, x), q4k = rms(DType.Q4_K, x), q3k = rms(DType.Q3_K, x);
        double nl = rms(DType.IQ4_NL, x), xs = rms(DType.IQ4_XS, x), q2k = rms(DType.Q2_K, x);
        System.out.printf("RMS error on %s: Q4_0 %.4g, Q4_K %.4g, Q3_K %.4g (%.2f of Q4_K), Q2_K %.4g (%.2f of Q3_K), IQ4_NL %.4g (%.3f of Q4_0), IQ4_XS %.4g (%.3f of Q4_K)%n",
                data, q40, q4k, q3k, q3k / q4k, q2k, q2k / q3k, nl, nl / q40, xs, xs / q4k);
        // Q2_K (2.625 bits) against Q3_K (3.44): measured 1.48-1.83x (one bit less a weight would double it)
        assertThat(q2k).isGreaterThan(q3k).isLessThan(2.2 * q3k);
        // Q3_K (3.44 bits) against Q4_K (4.5): measured 1.75-2.30x, 3.20x on one-sided data (no min to shift by)
        assertThat(q3k).isGreaterThan(q4k).isLessThan(3.5 * q4k);
        if (data == Data.POSITIVE_ONLY) {
            // one-sided values waste the levels crowded near zero, which a min (Q4_K) does not: measured 1.25x Q4_0
            assertThat(nl).isLessThan(1.4 * q40);
        } else {
            // IQ4_NL (4.5 bits) against Q4_0 (4.5): measured 0.79-0.97; IQ4_XS (4.25) against Q4_K (4.5): 1.04-1.14
            assertThat(nl).isLessThan(q40);
            assertThat(xs).isLessThan(1.2 * q4k);
        }
    }
}
