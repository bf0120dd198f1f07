package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The few-token kernels (speculative verification, small decode batches) against a float64 reference on the
 * stored values, and against the single-token kernel: a token's result must not depend on its batch.
 */
class FewTokensTest {
    @Test
    void matchesReferenceAndSingleTokenResults() {
        SplittableRandom r = new SplittableRandom(42);
        try (Arena arena = Arena.ofShared()) {
            // first every token count up to 17 in both formats (each mix of 5-, 4-, 2- and 1-token tiles), then random ones
            for (int iter = 0; iter < 182; iter++) {
                DType type = iter < 32 ? (iter % 2 == 0 ? DType.BF16 : DType.F32) : r.nextBoolean() ? DType.BF16 : DType.F32;
                int rows = 1 + r.nextInt(23), cols = 1 + r.nextInt(300);
                if (iter % 5 == 0) cols = 32 * (1 + r.nextInt(8));
                // rows past Matrix.ONE_STREAM_ROW_BYTES take the one-row tiles
                if (iter % 3 == 1) cols = 257 + r.nextInt(700);
                int T = iter < 32 ? 2 + iter / 2 : 2 + r.nextInt(FewTokens.MAX - 1), xOff = r.nextInt(4);
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
                float[] x = new float[xOff + T * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                Matrix m = Matrix.of("w", type, rows, cols, MatrixKernelTest.store(w, type, arena));
                float[] stored = new float[rows * cols];
                for (int i = 0; i < rows; i++) m.row(i, stored, i * cols);
                int stride = rows + 2, off = 1, r0 = r.nextInt(rows), r1 = r0 + 1 + r.nextInt(rows - r0);
                float[] y = new float[T * stride + off];
                Activations a = new Activations().set(x, xOff, T, cols);
                m.prepare(a);
                m.matmul(a, y, stride, off, r0, r1);
                for (int t = 0; t < T; t++) {
                    // The same token alone, through the single-token kernel, over the same row range.
                    float[] y1 = new float[stride + off];
                    Activations one = new Activations().set(x, xOff + t * cols, 1, cols);
                    m.prepare(one);
                    m.matmul(one, y1, stride, off, r0, r1);
                    for (int i = 0; i < rows; i++) {
                        int at = t * stride + off + i;
                        if (i < r0 || i >= r1) {
                            assertThat(y[at]).as("row %d outside [%d, %d) untouched", i, r0, r1).isZero();
                            continue;
                        }
                        double ref = 0, mag = 0;
                        for (int c = 0; c < cols; c++) {
                            double p = (double) stored[i * cols + c] * x[xOff + t * cols + c];
                            ref += p;
                            mag += Math.abs(p);
                        }
                        String where = type + " " + rows + "x" + cols + " T=" + T + " t=" + t + " row " + i;
                        assertThat((double) y[at]).as(where).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-5 * mag + 1e-6));
                        // Same summation order; the JIT's tiers may still round a lane reduction differently.
                        assertThat(y[at]).as(where + " vs alone").isCloseTo(y1[off + i], org.assertj.core.data.Offset.offset((float) (1e-6 * mag + 1e-7)));
                    }
                }
            }
        }
    }
}
