package moge.tensor;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Elementwise kernels against plain references. */
class VectorMathTest {

    /**
     * RMSNorm follows ggml's arithmetic bit for bit (written out here from its description: squares rounded
     * to float and summed in double in order, the mean rounded to float, 1 / sqrt in float, x times the scale,
     * then times w), and stays within float rounding of the float64 formula.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 7, 8, 31, 128, 1536, 2049})
    void rmsnormIsGgmlsArithmeticAndCloseToExact(int n) {
        SplittableRandom r = new SplittableRandom(n);
        for (int trial = 0; trial < 20; trial++) {
            float[] x = new float[n + 3], w = new float[n], out = new float[n + 5];
            double spread = Math.exp(3 * r.nextGaussian());
            for (int i = 0; i < n; i++) {
                x[3 + i] = (float) (r.nextGaussian() * spread);
                w[i] = (float) (1 + 0.1 * r.nextGaussian());
            }
            float eps = trial % 2 == 0 ? 1e-5f : 1e-6f;
            VectorMath.rmsnorm(x, 3, w, out, 5, n, eps);

            double sum = 0;
            for (int i = 0; i < n; i++) sum += (double) (x[3 + i] * x[3 + i]);
            float mean = (float) (sum / n);
            float scale = 1.0f / (float) Math.sqrt(mean + eps);
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double) x[3 + i] * x[3 + i];
            double exactScale = 1 / Math.sqrt(ss / n + eps);
            for (int i = 0; i < n; i++) {
                assertThat(out[5 + i]).as("n=%d trial=%d i=%d", n, trial, i).isEqualTo(x[3 + i] * scale * w[i]);
                double exact = x[3 + i] * exactScale * w[i];
                assertThat(Math.abs(out[5 + i] - exact)).isLessThanOrEqualTo(4e-7 * Math.abs(exact) + 1e-30);
            }
        }
    }

    @Test
    void expIsAccurateOverTheUsedRange() {
        int n = 4096;
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = -87f + 88f * i / n;
        float[] x = a.clone();
        VectorMath.exp(a, 0, n);
        for (int i = 0; i < n; i++) {
            double ref = Math.exp(x[i]);
            assertThat((double) a[i]).as("exp(%s)", x[i]).isCloseTo(ref, Offset.offset(ref * 3e-7));
        }
    }

    /**
     * The SwiGLU's silu(h) * up stays within a few float roundings of the float64 formula over the whole range
     * (saturating ends included), and a value's bits do not depend on where it lies in the range: each value is
     * recomputed alone (a padded tail) and inside runs of awkward lengths and offsets.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 8, 13, 100, 511, 512, 513, 1536, 2049})
    void siluMulIsCloseToExactAndPositionIndependent(int n) {
        SplittableRandom r = new SplittableRandom(n);
        float[] g = new float[n + 7], u = new float[n + 7];
        for (int i = 0; i < n + 7; i++) {
            g[i] = (float) (r.nextGaussian() * (i % 5 == 0 ? 40 : 4));
            u[i] = (float) r.nextGaussian();
        }
        g[0] = 0f;
        g[Math.min(1, n - 1)] = -120f;
        g[Math.min(2, n - 1)] = 120f;
        int off = 5;
        float[] h = g.clone();
        VectorMath.siluMul(h, u, off, n);
        for (int i = 0; i < n + 7; i++) {
            if (i < off || i >= off + n) {
                assertThat(h[i]).as("outside the range, i=%d", i).isEqualTo(g[i]);
                continue;
            }
            double x = g[i], ref = x / (1 + Math.exp(-x)) * u[i];
            assertThat((double) h[i]).as("silu(%s) * %s", g[i], u[i]).isCloseTo(ref, Offset.offset(Math.abs(ref) * 2e-6 + 1e-30));
            float[] alone = {g[i]};
            VectorMath.siluMul(alone, new float[] {u[i]}, 0, 1);
            assertThat(alone[0]).as("i=%d alone", i).isEqualTo(h[i]);
        }
    }
}
