package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Q6_K's tiles and 16-bit kernel: the activation grid keeps every sum of 8 columns inside 16 bits on adversarial
 * inputs, every code of the file reads back as ggml's, and products stay exact (against float64 on the same grid)
 * where those sums come nearest to 16 bits: codes at their extremes, scales at theirs, blocks of equal values.
 */
class Q6KTilesTest {
    private static final int COLS = 512;

    @Test
    void gridKeepsEverySumOfEightInSixteenBits() {
        float[] x = Q5KTilesTest.adversarial(COLS, 1);
        Activations a = new Activations().set(x, 1, COLS);
        float[] llama = a.q8Grid().clone();
        Q8Lanes l = a.q6Lanes(false);
        int tightest = 0;
        for (int b = 0; b < COLS / 32; b++) {
            float amax = 0;
            for (int p = 0; p < 32; p++) {
                int c = b * 32 + p, q = l.value(c);
                assertThat(l.pairs[c] >> 16).as("both halves of the pair").isEqualTo(q);
                assertThat(Math.abs(l.d[b] * q - x[c])).as("block %d position %d", b, p).isLessThanOrEqualTo(l.d[b] * 0.5001f);
                amax = Math.max(amax, Math.abs(x[c]));
            }
            for (int run = 0; run < 4; run++) {
                int abs = 0;
                for (int p = 8 * run; p < 8 * run + 8; p++) abs += Math.abs(l.value(b * 32 + p));
                // |q - 32| <= 32 for a 6-bit code, so a run of 8 sums to a short when 32 * sum|q| does
                assertThat(32 * abs).as("block %d run %d", b, run).isLessThanOrEqualTo(Short.MAX_VALUE);
                tightest = Math.max(tightest, 32 * abs);
            }
            // never coarser than llama.cpp's amax / 127: the largest run's sum|x| is at most 8 amax
            assertThat(l.d[b]).as("block %d", b).isLessThanOrEqualTo(amax / 127);
        }
        // the budget is spent: blocks of equal values come within a few units of the bound
        assertThat(tightest).isGreaterThan(32400);
        // with one large value in a block (block 0), the small ones keep resolution llama.cpp's int8 grid loses
        assertThat(java.util.stream.IntStream.range(0, 32).filter(p -> l.value(p) == 0).count())
                .isLessThan(java.util.stream.IntStream.range(0, 32).filter(p -> llama[p] == 0).count());
        // and with --activations q8 the form is llama.cpp's grid itself, whose runs of 8 fit too (8 * 32 * 127)
        Q8Lanes ll = a.q6Lanes(true);
        for (int c = 0; c < COLS; c++) {
            assertThat(Math.abs(ll.value(c))).isLessThanOrEqualTo(127);
            assertThat(ll.d[c / 32] * ll.value(c)).as("column %d", c).isEqualTo(llama[c]);
        }
    }

    @Test
    void codesReadAsGgmlsDequantization() {
        int rows = 2 * 16 + 3;
        MemorySegment raw = QuantTestData.random(DType.Q6_K, rows, COLS, 11);
        float[] block = new float[256];
        for (int r = 0; r < rows; r++) {
            for (int s = 0; s < COLS / 256; s++) {
                long at = (long) (r * COLS / 256 + s) * Q6KTiles.SUPER_BYTES;
                GgmlQuants.q6_K(raw, at, block, 0);
                float d = GgmlQuants.half(raw, at + 208);
                for (int p = 0; p < 256; p++) {
                    float sc = raw.get(ValueLayout.JAVA_BYTE, at + 192 + p / 16);
                    assertThat(d * sc * (Q6KTiles.code(raw, at, p) - 32)).as("row %d position %d", r, 256 * s + p).isEqualTo(block[p]);
                }
            }
        }
    }

    @Test
    void extremeCodesAndScalesAgainstAdversarialActivationsStayExact() {
        // two tiles (one pair), a lone tile, and rows past the tiles; by row every code 63, every code 0 (q - 32 =
        // -32, the largest magnitude), or random, with the first group's scale at -128 or 127
        int rows = 3 * 16 + 5, nsb = COLS / 256;
        MemorySegment raw = QuantTestData.random(DType.Q6_K, rows, COLS, 3);
        for (int r = 0; r < rows; r++) {
            if (r % 3 == 2) continue;
            byte fill = (byte) (r % 3 == 0 ? 0xFF : 0);
            for (int s = 0; s < nsb; s++) {
                long sb = (long) (r * nsb + s) * Q6KTiles.SUPER_BYTES;
                raw.asSlice(sb, 192).fill(fill); // ql and qh
                raw.set(ValueLayout.JAVA_BYTE, sb + 192, (byte) (r % 2 == 0 ? -128 : 127));
            }
        }
        for (boolean round : new boolean[]{false, true}) {
            // --activations q8 is switched on after loading (ModelHandle), so the grid is asked at each product
            Matrix m = QuantizedMatrices.create("w", DType.Q6_K, rows, COLS, raw, false);
            m.setActivationRounding(round);
            for (long seed = 1; seed <= 3; seed++) {
                float[] x = Q5KTilesTest.adversarial(COLS, seed);
                Activations a = new Activations().set(x, 1, COLS);
                float[] grid = MatmulKernelTest.grid(a.q6Lanes(round), COLS);
                Q5KTilesTest.assertRangesExact(DType.Q6_K, m, raw, rows, COLS, a, grid, "seed " + seed + (round ? ", llama's grid" : ""));
            }
        }
    }
}
