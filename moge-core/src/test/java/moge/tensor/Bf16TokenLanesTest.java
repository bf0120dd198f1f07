package moge.tensor;

import moge.format.DType;
import moge.format.Layouts;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The token-lane bf16 product (14-47 tokens, from 9 at 512 bits) against a float64 reference on awkward sizes, and
 * bit for bit against the panel GEMM that takes over from 48 tokens: both sum each output in ascending k in one
 * lane, in the two-vector rows and, at 512 bits, in the one-vector rows that take a tile of up to 16 tokens.
 */
class Bf16TokenLanesTest {
    @Test
    void matchesReferenceAndGemmBits() {
        int[] rowsList = {1, 3, 4, 5, 13, 8 + 7, 64 + 3};
        int[] colsList = {1, 2, 7, 33, 100, 512 + 3, 2048 + 5};
        int from = BF16Matrix.LANES_FROM;
        int[] tokensList = {from, 14, 15, 16, 17, 31, 32, 47, from + 3, 40};
        int cases = 0;
        for (int rows : rowsList) {
            for (int cols : colsList) {
                int T = tokensList[cases++ % tokensList.length];
                MemorySegment raw = QuantTestData.random(DType.BF16, rows, cols, rows * 31L + cols);
                Matrix m = Matrix.of("w", DType.BF16, rows, cols, raw);
                float[] xs = QuantTestData.floats(3 + T * cols, T * 100L + cols);
                Activations x = new Activations().set(xs, 3, T, cols);
                int yStride = rows + 5, yOff = 2;
                for (int threads = 1; threads <= 2; threads++) {
                    float[] y = new float[T * yStride + yOff + 4];
                    Arrays.fill(y, Float.NaN);
                    try (Parallel team = new Parallel(threads)) {
                        m.prepare(x);
                        team.forRange(rows, 4, (r0, r1) -> m.matmul(x, y, yStride, yOff, r0, r1));
                    }
                    // the panel GEMM on the same tokens, over a row range that starts mid-matrix
                    int g0 = rows / 3;
                    float[] g = new float[T * yStride + yOff + 4];
                    Gemm.matmul((r, n, k0, k1, dst, stride) -> {
                        for (int i = 0; i < n; i++) {
                            for (int k = k0; k < k1; k++) dst[i * stride + k - k0] = bf16(raw, ((long) (r + i) * cols + k) * 2);
                        }
                    }, cols, x.tokenMajor(Gemm.TILE), T, g, yStride, yOff, g0, rows);
                    for (int t = 0; t < T; t++) {
                        for (int r = 0; r < rows; r++) {
                            double ref = 0, mag = 0;
                            for (int c = 0; c < cols; c++) {
                                double p = (double) bf16(raw, ((long) r * cols + c) * 2) * xs[3 + t * cols + c];
                                ref += p;
                                mag += Math.abs(p);
                            }
                            float got = y[t * yStride + yOff + r];
                            String where = rows + "x" + cols + " T=" + T + " threads=" + threads + " token " + t + " row " + r;
                            assertThat((double) got).as(where).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-6));
                            if (r >= g0) assertThat(got).as(where + " vs GEMM").isEqualTo(g[t * yStride + yOff + r]);
                        }
                    }
                    // nothing written outside the outputs
                    for (int i = 0; i < yOff; i++) assertThat(y[i]).isNaN();
                    for (int t = 0; t < T; t++) {
                        for (int i = rows; i < yStride && t * yStride + yOff + i < y.length; i++) assertThat(y[t * yStride + yOff + i]).isNaN();
                    }
                }
            }
        }
    }

    @Test
    void aTokenGetsTheSameBitsInEveryBatchFromTheLanesOnTo64() {
        // batched decode: one sequence's token among 8..63 others, in lanes (one or two vectors a row) or in the
        // GEMM, gets the same bits
        int rows = 21, cols = 300;
        MemorySegment raw = QuantTestData.random(DType.BF16, rows, cols, 99);
        Matrix m = Matrix.of("w", DType.BF16, rows, cols, raw);
        SplittableRandom rnd = new SplittableRandom(3);
        float[] mine = QuantTestData.floats(cols, 5);
        float[] first = null;
        for (int T = BF16Matrix.LANES_FROM; T <= 64; T++) {
            float[] xs = QuantTestData.floats(T * cols, 1000L + T);
            int at = rnd.nextInt(T);
            System.arraycopy(mine, 0, xs, at * cols, cols);
            Activations x = new Activations().set(xs, T, cols);
            float[] y = new float[T * rows];
            m.prepare(x);
            m.matmul(x, y, rows, 0, 0, rows);
            float[] got = Arrays.copyOfRange(y, at * rows, at * rows + rows);
            if (first == null) first = got;
            assertThat(got).as("T=%d at %d", T, at).containsExactly(first);
        }
    }

    private static float bf16(MemorySegment raw, long byteOffset) {
        return Float.intBitsToFloat((raw.get(Layouts.I16, byteOffset) & 0xFFFF) << 16);
    }
}
