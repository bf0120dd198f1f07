package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q5_K's 16-bit kernel: the activation grid keeps every block's sums inside 16 bits on adversarial inputs, and
 * products stay exact (against float64 on the same grid) with the largest codes meeting those inputs.
 */
class Q5KTilesTest {
    private static final int COLS = 512;

    /** Blocks built to stress the budget: one huge value, all equal (ties at .5), alternating, zeros, heavy tails. */
    static float[] adversarial(int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[cols];
        for (int b = 0; b < cols / 32; b++) {
            for (int p = 0; p < 32; p++) {
                int c = b * 32 + p;
                x[c] = switch (b % 8) {
                    case 0 -> p == 7 ? 50f : (float) r.nextGaussian() * 0.1f;        // one huge value
                    case 1 -> 0.75f;                                                 // all equal, positive
                    case 2 -> -3f;                                                   // all equal, negative
                    case 3 -> (p & 1) == 0 ? 2f : -2f;                               // equal magnitude, both signs
                    case 4 -> 0f;                                                    // nothing
                    case 5 -> p == 0 ? -5e3f : 1e-2f;                                // one huge negative value
                    case 6 -> (float) (r.nextGaussian() * Math.exp(2 * r.nextGaussian())); // heavy tails
                    default -> (float) r.nextGaussian();
                };
            }
        }
        return x;
    }

    @Test
    void gridKeepsEveryBlockSumInSixteenBits() {
        float[] x = adversarial(COLS, 1);
        Activations a = new Activations().set(x, 1, COLS);
        float[] llama = a.q8Grid().clone();
        Q8Lanes l = a.q5Lanes();
        assertThat(l.offset).isEqualTo(16);
        for (int b = 0; b < COLS / 32; b++) {
            int sum = 0, abs = 0;
            float amax = 0;
            for (int p = 0; p < 32; p++) {
                int c = b * 32 + p, q = l.value(c);
                assertThat(l.pairs[c] >> 16).as("both halves of the pair").isEqualTo(q);
                assertThat(Math.abs(l.d[b] * q - x[c])).as("block %d position %d", b, p).isLessThanOrEqualTo(l.d[b] * 0.5001f);
                sum += q;
                abs += Math.abs(q);
                amax = Math.max(amax, Math.abs(x[c]));
            }
            // (code - 16) * q spans [-16, 15] * |q|: the true block sum is a short when 16 * sum|q| <= 2^15
            assertThat(16 * abs).as("block %d", b).isLessThanOrEqualTo(32768);
            // and the correction 16 * sum(q), which the float pass reads as a number, is one too
            assertThat(Math.abs(16 * sum)).as("block %d", b).isLessThanOrEqualTo(Short.MAX_VALUE);
            assertThat(l.corr(b)).isEqualTo((short) (16 * sum));
            // the step, sum|x| / 2031, is at most about twice llama.cpp's amax / 127 (blocks of equal magnitudes)
            assertThat(l.d[b]).as("block %d", b).isLessThanOrEqualTo(amax / 127 * 2.01f);
        }
        // with one large value in a block, the small ones keep far more resolution than on llama.cpp's int8 grid,
        // which flattens most of them to zero
        assertThat(l.d[0]).isLessThan(50f / 127 / 8);
        int ours = 0, theirs = 0;
        for (int p = 0; p < 32; p++) {
            if (l.value(p) != 0) ours++;
            if (llama[p] != 0) theirs++;
        }
        assertThat(ours).isGreaterThan(25);
        assertThat(theirs).isLessThan(ours / 2);
    }

    @Test
    void largestCodesAgainstAdversarialActivationsStayExact() {
        // two tiles (one pair), a lone tile, and rows past the tiles; codes all 31, all 0, or random, by row
        int rows = 3 * 16 + 5, nsb = COLS / 256;
        MemorySegment raw = QuantTestData.random(DType.Q5_K, rows, COLS, 3);
        for (int r = 0; r < rows; r++) {
            if (r % 3 == 2) continue;
            byte fill = (byte) (r % 3 == 0 ? 0xFF : 0);
            for (int s = 0; s < nsb; s++) {
                long sb = (long) (r * nsb + s) * Q5KTiles.SUPER_BYTES;
                raw.asSlice(sb + 16, 160).fill(fill); // qh and qs: every code 31 (or 0)
                raw.set(ValueLayout.JAVA_BYTE, sb + 4, (byte) 0x3F); // and sub-block 0's scale at its largest
            }
        }
        Matrix m = QuantizedMatrices.create("w", DType.Q5_K, rows, COLS, raw);
        for (long seed = 1; seed <= 3; seed++) {
            float[] x = adversarial(COLS, seed);
            Activations a = new Activations().set(x, 1, COLS);
            float[] grid = MatmulKernelTest.grid(a.q5Lanes(), COLS);
            assertRangesExact(DType.Q5_K, m, raw, rows, COLS, a, grid, "seed " + seed);
        }
    }

    /**
     * One token against {@code m} over the whole row range and ranges that start and end inside tiles: every
     * row within 2e-5 of float64 over the reference rows and the activations' integer grid, rows outside untouched.
     */
    static void assertRangesExact(DType type, Matrix m, MemorySegment raw, int rows, int cols, Activations a, float[] grid, String what) {
        for (int[] range : new int[][]{{0, rows}, {5, rows - 2}, {17, 40}, {48, 50}}) {
            float[] y = new float[rows];
            Arrays.fill(y, Float.NaN);
            m.prepare(a);
            m.matmul(a, y, rows, 0, range[0], range[1]);
            for (int r = 0; r < rows; r++) {
                if (r < range[0] || r >= range[1]) {
                    assertThat(y[r]).isNaN();
                    continue;
                }
                float[] w = QuantTestData.refRow(type, raw, cols, r);
                double ref = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    ref += (double) w[c] * grid[c];
                    mag += Math.abs((double) w[c] * grid[c]);
                }
                assertThat(Math.abs(y[r] - ref)).as("%s rows %s row %d", what, Arrays.toString(range), r)
                        .isLessThanOrEqualTo(2e-5 * mag + 1e-6);
            }
        }
    }
}
