package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q2_K: the reference decoder against the format's formula worked out independently in float64, the tiles' decoded
 * weights against the reference to the bit, the activations' group sums, and products exact (against float64 on
 * the same grid) with the largest codes, scales and mins meeting adversarial activations.
 */
class Q2KTilesTest {
    private static final int COLS = 512;

    /**
     * Each value as ggml's dequantize_row_q2_K arrives at it, written from its loops (two halves of 128 values,
     * each four shifts of one 32-byte run of qs, each shift two groups of 16 with the next scale byte), in
     * float64: d * sc * q - dmin * m is exact there for these scales (at most 17 significant bits each, close
     * exponents), so one rounding to float gives what float arithmetic gives, dl * q exact and one rounded
     * subtraction.
     */
    private static float[] formula(MemorySegment s, long at, int n) {
        float[] out = new float[n];
        for (int blk = 0, y = 0; blk < n / 256; blk++, at += 84) {
            double d = Float.float16ToFloat(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 80));
            double dmin = Float.float16ToFloat(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 82));
            int is = 0;
            for (int half = 0; half < 2; half++) {
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int run = 0; run < 2; run++) {
                        int sc = s.get(ValueLayout.JAVA_BYTE, at + is++) & 0xFF;
                        for (int l = 0; l < 16; l++) {
                            int q = ((s.get(ValueLayout.JAVA_BYTE, at + 16 + 32 * half + 16 * run + l) & 0xFF) >> shift) & 3;
                            out[y++] = (float) (d * (sc & 15) * q - dmin * (sc >> 4));
                        }
                    }
                }
            }
        }
        return out;
    }

    @Test
    void referenceIsTheFormatsFormulaToTheBit() {
        int rows = 40, cols = 1024;
        MemorySegment raw = QuantTestData.random(DType.Q2_K, rows, cols, 5);
        extremes(raw, rows, cols / 256);
        long zeros = 0;
        for (int r = 0; r < rows; r++) {
            float[] ref = QuantTestData.refRow(DType.Q2_K, raw, cols, r);
            float[] want = formula(raw, (long) r * cols / 256 * 84, cols);
            for (int c = 0; c < cols; c++) {
                assertThat(Float.floatToRawIntBits(ref[c])).as("row %d col %d: %s vs %s", r, c, ref[c], want[c])
                        .isEqualTo(Float.floatToRawIntBits(want[c]));
                if (ref[c] == 0) zeros++;
            }
        }
        // the extremes' zero codes and mins give zeros, signed as the min's sign and d's say
        assertThat(zeros).isPositive();
    }

    @Test
    void decodedWeightsAreGgmlsToTheBit() {
        int rows = 2 * 16 + 3, cols = 768;
        MemorySegment raw = QuantTestData.random(DType.Q2_K, rows, cols, 11);
        extremes(raw, rows, cols / 256);
        Q3KTilesTest.assertTilesDecodeToTheBit(DType.Q2_K, raw, rows, cols);
    }

    /**
     * Rows by r % 3: every code 3 with every scale and min 15, every code 0 with scale and min 0, or random; a
     * negative d and dmin in some super-blocks (zero codes then give -0.0 or +0.0 by the min's sign, which the
     * decode must keep).
     */
    private static void extremes(MemorySegment raw, int rows, int nsb) {
        for (int r = 0; r < rows; r++) {
            if (r % 3 == 2) continue;
            byte fill = (byte) (r % 3 == 0 ? 0xFF : 0);
            for (int s = 0; s < nsb; s++) {
                long sb = (long) (r * nsb + s) * Q2KTiles.SUPER_BYTES;
                raw.asSlice(sb, 80).fill(fill);
                if (s == 1) {
                    raw.set(ValueLayout.JAVA_SHORT_UNALIGNED, sb + 80, Float.floatToFloat16(-0.0123f));
                    raw.set(ValueLayout.JAVA_SHORT_UNALIGNED, sb + 82, Float.floatToFloat16(-0.0061f));
                }
            }
        }
    }

    @Test
    void groupSumsAreTheIntegersOfEachSixteen() {
        float[] x = Q3KTilesTest.adversarial(COLS, 4);
        Q8Lanes l = new Activations().set(x, 1, COLS).q3Lanes();
        for (int g = 0; g < COLS / 16; g++) {
            int sum = 0, abs = 0;
            for (int p = 0; p < 16; p++) {
                sum += l.value(16 * g + p);
                abs += Math.abs(l.value(16 * g + p));
            }
            assertThat(l.groups[g]).as("group %d", g).isEqualTo(sum);
            // codes up to 3: a group's sum of code * q stays a short
            assertThat(3 * abs).as("group %d", g).isLessThanOrEqualTo(Short.MAX_VALUE);
        }
    }

    @Test
    void largestCodesAgainstAdversarialActivationsStayExact() {
        // two tiles (one pair), a lone tile, and rows past the tiles
        int rows = 3 * 16 + 5;
        MemorySegment raw = QuantTestData.random(DType.Q2_K, rows, COLS, 3);
        extremes(raw, rows, COLS / 256);
        Matrix m = QuantizedMatrices.create("w", DType.Q2_K, rows, COLS, raw);
        for (long seed = 1; seed <= 3; seed++) {
            float[] x = Q3KTilesTest.adversarial(COLS, seed);
            Activations a = new Activations().set(x, 1, COLS);
            float[] grid = MatmulKernelTest.grid(a.q3Lanes(), COLS);
            Q5KTilesTest.assertRangesExact(DType.Q2_K, m, raw, rows, COLS, a, grid, "seed " + seed);
        }
    }
}
