package moge.train;

import moge.tensor.Parallel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class GemmTest {
    private static final Parallel TEAM = new Parallel(2);
    private static final Parallel ONE = new Parallel(1);

    @AfterAll
    static void close() {
        TEAM.close();
        ONE.close();
    }

    static float[] rand(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @ParameterizedTest
    @CsvSource({"1,1,1", "3,5,7", "4,16,16", "5,17,33", "9,64,300", "37,130,70", "2,200,5", "70,3,513", "8,129,260"})
    void threeProductsMatchPlainLoops(int rows, int in, int out) {
        SplittableRandom r = new SplittableRandom(rows * 1000L + in * 31L + out);
        float[] x = rand(r, rows * in), w = rand(r, out * in), dy = rand(r, rows * out);
        Gemm g = new Gemm(TEAM);
        float[] y = rand(r, rows * out), y0 = y.clone();
        g.linear(x, 0, rows, in, w, 0, out, y, 0, true);
        float[] dx = new float[rows * in];
        g.linearInputGrad(dy, 0, rows, out, w, 0, in, dx, 0, false);
        float[] dw = rand(r, out * in), dw0 = dw.clone();
        g.linearWeightGrad(dy, 0, rows, out, x, 0, in, dw, 0);
        for (int n = 0; n < rows; n++) {
            for (int o = 0; o < out; o++) {
                double s = y0[n * out + o];
                for (int i = 0; i < in; i++) s += (double) x[n * in + i] * w[o * in + i];
                assertThat(y[n * out + o]).isCloseTo((float) s, org.assertj.core.data.Offset.offset(1e-4f * (1 + (float) Math.sqrt(in))));
            }
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int o = 0; o < out; o++) s += (double) dy[n * out + o] * w[o * in + i];
                assertThat(dx[n * in + i]).isCloseTo((float) s, org.assertj.core.data.Offset.offset(1e-4f * (1 + (float) Math.sqrt(out))));
            }
        }
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double s = dw0[o * in + i];
                for (int n = 0; n < rows; n++) s += (double) dy[n * out + o] * x[n * in + i];
                assertThat(dw[o * in + i]).isCloseTo((float) s, org.assertj.core.data.Offset.offset(1e-4f * (1 + (float) Math.sqrt(rows))));
            }
        }
    }

    @Test
    void resultDoesNotDependOnTheTeamSize() {
        SplittableRandom r = new SplittableRandom(7);
        for (int[] s : new int[][]{{300, 130, 6}, {6, 300, 513}, {1000, 64, 48}}) {
            int m = s[0], n = s[1], k = s[2];
            float[] a = rand(r, m * k), b = rand(r, k * n);
            float[] c1 = new float[m * n], c2 = new float[m * n];
            new Gemm(TEAM).nn(m, n, k, a, 0, k, b, 0, n, c1, 0, n, false);
            new Gemm(ONE).nn(m, n, k, a, 0, k, b, 0, n, c2, 0, n, false);
            assertThat(c1).containsExactly(c2);
        }
    }
}
