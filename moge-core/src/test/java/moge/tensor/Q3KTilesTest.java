package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q3_K's tiles and 16-bit kernel: every decoded weight is ggml's value to the bit, the activation grid keeps every
 * 16-value group's sum inside 16 bits on adversarial inputs (and the next grid step does not), and products stay
 * exact (against float64 on the same grid) with the largest codes and scales meeting those inputs.
 */
class Q3KTilesTest {
    private static final int COLS = 512;

    /**
     * Q5_K's adversarial blocks, with blocks 1 and 2 of every 8 holding all of their budget in one 16-value group
     * (-1s then zeros, which on the next grid step land on .5 ties; zeros then 3s).
     */
    static float[] adversarial(int cols, long seed) {
        float[] x = Q5KTilesTest.adversarial(cols, seed);
        for (int b = 1; b < cols / 32; b += 8) {
            for (int p = 0; p < 32; p++) {
                x[b * 32 + p] = p < 16 ? -1f : 0f;
                if (b + 1 < cols / 32) x[(b + 1) * 32 + p] = p < 16 ? 0f : 3f;
            }
        }
        return x;
    }

    /** The largest |sum of code * q| over a 16-value group with codes in -4..3, in exact integers. */
    private static int worstGroupSum(Q8Lanes l, int group) {
        int pos = 0, neg = 0;
        for (int p = 0; p < 16; p++) {
            int q = l.value(16 * group + p);
            pos += Math.max(3 * q, -4 * q);
            neg += Math.min(3 * q, -4 * q);
        }
        return Math.max(pos, -neg);
    }

    @Test
    void gridKeepsEveryGroupSumInSixteenBits() {
        float[] x = adversarial(COLS, 1);
        Activations a = new Activations().set(x, 1, COLS);
        float[] llama = a.q8Grid().clone();
        Q8Lanes l = a.q3Lanes();
        assertThat(l.offset).isZero();
        int tightest = 0;
        for (int b = 0; b < COLS / 32; b++) {
            float amax = 0;
            for (int p = 0; p < 32; p++) {
                int c = b * 32 + p, q = l.value(c);
                assertThat(l.pairs[c] >> 16).as("both halves of the pair").isEqualTo(q);
                assertThat(Math.abs(l.d[b] * q - x[c])).as("block %d position %d", b, p).isLessThanOrEqualTo(l.d[b] * 0.5001f);
                amax = Math.max(amax, Math.abs(x[c]));
            }
            assertThat(l.corr(b)).isZero();
            for (int g = 2 * b; g < 2 * b + 2; g++) {
                assertThat(worstGroupSum(l, g)).as("group %d", g).isLessThanOrEqualTo(Short.MAX_VALUE);
                tightest = Math.max(tightest, worstGroupSum(l, g));
            }
            // the step, sum|x| / 8183, is at most about half llama.cpp's amax / 127 (32 equal magnitudes)
            assertThat(l.d[b]).as("block %d", b).isLessThanOrEqualTo(amax / 127 * 0.51f);
        }
        // the budget is spent: a block whose mass is all in one group comes within a few units of the bound
        assertThat(tightest).isGreaterThan(32700);
        // with one large value in a block (block 0), the small ones keep resolution llama.cpp's int8 grid loses
        assertThat(l.d[0]).isLessThan(50f / 127 / 32);
        assertThat(IntStream.range(0, 32).filter(p -> l.value(p) == 0).count()).isLessThan(IntStream.range(0, 32).filter(p -> llama[p] == 0).count());
    }

    @Test
    void theNextGridStepWraps() {
        // 16 values -1 then 16 zeros: x / d = -sum / 16 exactly, a .5 tie on 8184's grid, rounded to even
        float[] x = new float[32];
        Arrays.fill(x, 0, 16, -1f);
        Q8Lanes ours = new Q8Lanes(Q8Lanes.SUM3, 0), next = new Q8Lanes(Q8Lanes.SUM3 + 1, 0);
        ours.build(x, 0, 32, false);
        next.build(x, 0, 32, false);
        assertThat(ours.value(0)).isEqualTo((short) -511);
        assertThat(next.value(0)).isEqualTo((short) -512);
        // codes all -4, summed in shorts as the kernel does
        short fits = 0, wraps = 0;
        for (int p = 0; p < 16; p++) {
            fits += (short) (-4 * ours.value(p));
            wraps += (short) (-4 * next.value(p));
        }
        assertThat(fits).isEqualTo((short) (4 * 16 * 511));
        assertThat((int) wraps).isNotEqualTo(4 * 16 * 512).isEqualTo(-32768);
    }

    @Test
    void decodedWeightsAreGgmlsToTheBit() {
        int rows = 2 * 16 + 3, cols = 768;
        MemorySegment raw = QuantTestData.random(DType.Q3_K, rows, cols, 11);
        extremes(raw, rows, cols / 256);
        assertTilesDecodeToTheBit(DType.Q3_K, raw, rows, cols);
    }

    /**
     * Every row of a tiled K-quant matrix (rows in whole tiles and past them) decoded as the reference decodes it,
     * to the bit, without writing outside the row; and the GEMM's column ranges, starting and ending inside
     * super-blocks, for several rows at a stride.
     */
    static void assertTilesDecodeToTheBit(DType type, MemorySegment raw, int rows, int cols) {
        KQuantTileMatrix m = (KQuantTileMatrix) QuantizedMatrices.create("w", type, rows, cols, raw);
        for (int r = 0; r < rows; r++) {
            float[] ref = QuantTestData.refRow(type, raw, cols, r);
            float[] got = new float[cols + 3];
            Arrays.fill(got, Float.NaN);
            m.row(r, got, 2);
            for (int c = 0; c < cols; c++) {
                assertThat(Float.floatToRawIntBits(got[2 + c])).as("row %d col %d: %s vs %s", r, c, got[2 + c], ref[c])
                        .isEqualTo(Float.floatToRawIntBits(ref[c]));
            }
            assertThat(got[1]).isNaN();
            assertThat(got[cols + 2]).isNaN();
        }
        int k0 = 96, k1 = 640, n = 20, stride = k1 - k0 + 5;
        float[] dst = new float[n * stride];
        Arrays.fill(dst, Float.NaN);
        m.decode(9, n, k0, k1, dst, stride);
        for (int i = 0; i < n; i++) {
            float[] ref = QuantTestData.refRow(type, raw, cols, 9 + i);
            for (int c = k0; c < k1; c++) {
                assertThat(Float.floatToRawIntBits(dst[i * stride + c - k0])).isEqualTo(Float.floatToRawIntBits(ref[c]));
            }
            assertThat(dst[i * stride + k1 - k0]).isNaN();
        }
    }

    /**
     * Rows by r % 3: every code -4 with every scale at -32, every code 3 with every scale at 31, or random;
     * a negative d in some super-blocks (sign and zero codes then give -0.0, which the decode must keep).
     */
    private static void extremes(MemorySegment raw, int rows, int nsb) {
        for (int r = 0; r < rows; r++) {
            if (r % 3 == 2) continue;
            byte fill = (byte) (r % 3 == 0 ? 0 : 0xFF);
            for (int s = 0; s < nsb; s++) {
                long sb = (long) (r * nsb + s) * Q3KTiles.SUPER_BYTES;
                raw.asSlice(sb, 108).fill(fill); // hmask, qs and scales: codes -4 / 3, scales 0 / 63 (-32 / 31)
                if (s == 1) raw.set(ValueLayout.JAVA_SHORT_UNALIGNED, sb + 108, Float.floatToFloat16(-0.0123f));
            }
        }
    }

    @Test
    void largestCodesAgainstAdversarialActivationsStayExact() {
        // two tiles (one pair), a lone tile, and rows past the tiles
        int rows = 3 * 16 + 5;
        MemorySegment raw = QuantTestData.random(DType.Q3_K, rows, COLS, 3);
        extremes(raw, rows, COLS / 256);
        Matrix m = QuantizedMatrices.create("w", DType.Q3_K, rows, COLS, raw);
        for (long seed = 1; seed <= 3; seed++) {
            float[] x = adversarial(COLS, seed);
            Activations a = new Activations().set(x, 1, COLS);
            float[] grid = MatmulKernelTest.grid(a.q3Lanes(), COLS);
            Q5KTilesTest.assertRangesExact(DType.Q3_K, m, raw, rows, COLS, a, grid, "seed " + seed);
        }
    }
}
