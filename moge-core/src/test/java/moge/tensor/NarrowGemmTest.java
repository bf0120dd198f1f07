package moge.tensor;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one-vector GEMM (up to one vector of tokens) against a float64 reference on awkward sizes, and bit for
 * bit against Gemm's own kernel, which sums in the same order: the same tokens at the head of a batch too
 * big for the narrow path must get the same bits. Called directly, so it runs at 256 bits as well, where
 * {@link Gemm} never hands it a product.
 */
class NarrowGemmTest {
    private static final int L = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();

    @Test
    void matchesReferenceAndGemmBits() {
        SplittableRandom rnd = new SplittableRandom(11);
        int[] rowsList = {1, 3, 7, 8, 9, 13, 64 + 5};
        int[] colsList = {1, 5, 511, 512, 513, 1100};
        int cases = 0;
        for (int rows : rowsList) {
            for (int cols : colsList) {
                int T = 1 + cases++ % L;
                float[] w = new float[rows * cols];
                for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
                Gemm.Source src = (r, n, k0, k1, dst, stride) -> {
                    for (int i = 0; i < n; i++) System.arraycopy(w, (r + i) * cols + k0, dst, i * stride, k1 - k0);
                };
                int big = Gemm.TILE + 3; // past one vector: Gemm's two-vector kernel
                float[] xs = new float[big * cols];
                for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
                float[] xtBig = new Activations().set(xs, big, cols).tokenMajor(Gemm.TILE);
                float[] xt = new Activations().set(xs, T, cols).tokenMajor(Gemm.TILE);
                int yStride = rows + 3, yOff = 2;
                // a row range that starts mid-matrix and does not end on a block of eight
                int r0 = rows / 3, r1 = rows - rows / 5;
                float[] y = new float[T * yStride + yOff + 1];
                Arrays.fill(y, Float.NaN);
                NarrowGemm.matmul(src, cols, xt, T, y, yStride, yOff, r0, r1);
                float[] g = new float[big * yStride + yOff + 1];
                Gemm.matmul(src, cols, xtBig, big, g, yStride, yOff, r0, r1);
                for (int t = 0; t < T; t++) {
                    for (int r = 0; r < rows; r++) {
                        String where = rows + "x" + cols + " T=" + T + " token " + t + " row " + r;
                        float got = y[t * yStride + yOff + r];
                        if (r < r0 || r >= r1) {
                            assertThat(got).as(where + " outside the range").isNaN();
                            continue;
                        }
                        double ref = 0, mag = 0;
                        for (int c = 0; c < cols; c++) {
                            double p = (double) w[r * cols + c] * xs[t * cols + c];
                            ref += p;
                            mag += Math.abs(p);
                        }
                        assertThat((double) got).as(where).isCloseTo(ref, Offset.offset(1e-5 * mag + 1e-6));
                        assertThat(got).as(where + " vs Gemm").isEqualTo(g[t * yStride + yOff + r]);
                    }
                }
            }
        }
    }
}
