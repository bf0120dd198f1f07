package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

/** Q4_0 products of many tokens in 16-bit integers ({@link ShortGemm}) against a plain double-precision reference. */
class ShortGemmTest {
    /**
     * Rows: tile pairs, an odd tile and rows past the last tile; tokens: past the few-token kernels, tiles partly
     * filled; columns: one block, a few, and more than a 512-column panel. The reference multiplies each token on
     * the grid the decode kernels give it alone ({@link Q8Lanes}, d = sum|x| / 4064), in double.
     */
    @ParameterizedTest
    @CsvSource({"53, 32, 129", "53, 96, 200", "37, 2080, 150", "64, 544, 256", "8, 64, 300"})
    void matchesTheReferenceOnTheActivationGrid(int rows, int cols, int T) {
        MemorySegment raw = QuantTestData.random(DType.Q4_0, rows, cols, rows * 7L + cols);
        Matrix m = QuantizedMatrices.create("w", DType.Q4_0, rows, cols, raw);
        float[] x = QuantTestData.floats(T * cols, T + cols);
        for (int c = 0; c < 32; c++) x[cols + c] = 0; // token 1's first block all zero
        x[5] = 1e4f; // one large value in token 0's first block
        float[] y1 = direct(m, x, T, cols, 1), y2 = direct(m, x, T, cols, 2);
        assertThat(y2).as("two threads give one thread's bits").containsExactly(y1);
        // at 512 bits the engine's products of this many tokens take this path; elsewhere the class still runs
        // (the Vector API's 512-bit species in Java), so this test checks it on every machine
        if (ShortGemm.ON) assertThat(product(m, x, T, cols, 2)).as("through Kernels.matmul").containsExactly(y1);
        for (int t = 0; t < T; t++) {
            for (int r = 0; r < rows; r++) {
                float[] w = QuantTestData.refRow(DType.Q4_0, raw, cols, r);
                Q8Lanes l = new Activations().set(x, t * cols, 1, cols).q8Lanes(false);
                double ref = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) w[c] * l.d[c / 32] * l.value(c);
                    ref += p;
                    mag += Math.abs(p);
                }
                assertThat(Math.abs(y1[t * rows + r] - ref)).as("t=%d r=%d", t, r).isLessThanOrEqualTo(2e-5 * mag + 1e-30);
            }
        }
    }

    /** ShortGemm itself, rows split over the team as Kernels splits them. */
    private static float[] direct(Matrix m, float[] x, int T, int cols, int threads) {
        float[] y = new float[T * m.rows];
        ShortGemm.Tokens tokens = new ShortGemm.Tokens();
        tokens.build(x, 0, T, cols, null);
        try (Parallel team = new Parallel(threads)) {
            team.forRange(m.rows, 32, (r0, r1) -> ShortGemm.matmul((Q4_0Matrix) m, tokens, y, m.rows, 0, r0, r1));
        }
        return y;
    }

    private static float[] product(Matrix m, float[] x, int T, int cols, int threads) {
        float[] y = new float[T * m.rows];
        try (Parallel team = new Parallel(threads)) {
            Kernels.matmul(team, m, new Activations().set(x, T, cols), y);
        }
        return y;
    }
}
