package moge.tensor;

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
}
