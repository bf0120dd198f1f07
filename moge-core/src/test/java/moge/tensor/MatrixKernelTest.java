package moge.tensor;

import moge.format.DType;
import moge.format.HfCheckpointWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Float-format matrix kernels against a float64 dot product on the same stored values, at awkward sizes. */
class MatrixKernelTest {

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[][] shapes = {{1, 1}, {3, 7}, {5, 31}, {9, 33}, {4, 64}, {13, 100}, {7, 257}, {33, 96}, {65, 1030}};
        int[] tokens = {1, 2, 5, 17};
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (int[] s : shapes) for (int T : tokens) out.add(Arguments.of(t, s[0], s[1], T));
        }
        return out;
    }

    static MemorySegment store(float[] w, DType t, Arena arena) {
        byte[] b = HfCheckpointWriter.encode(w, t);
        // An odd offset inside a larger segment: checkpoint tensors are not aligned.
        MemorySegment seg = arena.allocate(b.length + 3, 1).asSlice(3, b.length);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, seg, 0, b.length);
        return seg;
    }

    @ParameterizedTest(name = "{0} {1}x{2} T={3}")
    @MethodSource("cases")
    void matmulMatchesReference(DType type, int rows, int cols, int T) {
        SplittableRandom r = new SplittableRandom(rows * 31L + cols * 7L + T);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        float[] x = new float[T * cols + 5];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        try (Arena arena = Arena.ofShared(); Parallel team = new Parallel(2)) {
            Matrix m = Matrix.of("w", type, rows, cols, store(w, type, arena));
            float[] stored = new float[rows * cols];
            for (int i = 0; i < rows; i++) m.row(i, stored, i * cols);
            Activations a = new Activations().set(x, 5, T, cols);
            // yStride > rows and yOff > 0 exercise the output addressing contract.
            int stride = rows + 3, off = 2;
            float[] y = new float[T * stride + off];
            m.prepare(a);
            m.matmul(a, y, stride, off, 0, rows);
            float[] y2 = new float[T * rows];
            Kernels.matmul(team, m, a, y2);
            for (int t = 0; t < T; t++) {
                for (int i = 0; i < rows; i++) {
                    double ref = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        ref += (double) stored[i * cols + c] * x[5 + t * cols + c];
                        mag += Math.abs((double) stored[i * cols + c] * x[5 + t * cols + c]);
                    }
                    double tol = 1e-5 * mag + 1e-6;
                    assertThat((double) y[t * stride + off + i]).isCloseTo(ref, org.assertj.core.data.Offset.offset(tol));
                    // Same arithmetic; only the lane reduction may differ between interpreted and compiled code.
                    assertThat((double) y2[t * rows + i]).isCloseTo(y[t * stride + off + i], org.assertj.core.data.Offset.offset(tol));
                }
            }
            // stored values equal the source up to the format's rounding
            double rel = type == DType.F32 ? 0 : type == DType.BF16 ? 1.0 / 256 : 1.0 / 1024;
            for (int i = 0; i < w.length; i++) assertThat((double) stored[i]).isCloseTo(w[i], org.assertj.core.data.Offset.offset(Math.abs(w[i]) * rel + 1e-7));
        }
    }

    @ParameterizedTest(name = "threads={0}")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2, 3})
    void fusedKernelsMatchSeparateProducts(int threads) {
        SplittableRandom r = new SplittableRandom(threads);
        int ff = 37, cols = 45, T = 6;
        float[] g = new float[ff * cols], u = new float[ff * cols], x = new float[T * cols];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) r.nextGaussian();
            u[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        try (Arena arena = Arena.ofShared(); Parallel team = new Parallel(threads)) {
            Matrix gm = Matrix.of("g", DType.BF16, ff, cols, store(g, DType.BF16, arena));
            Matrix um = Matrix.of("u", DType.F32, ff, cols, store(u, DType.F32, arena));
            Activations a = new Activations().set(x, T, cols);
            float[] h = new float[T * ff], scratch = new float[T * ff], gy = new float[T * ff], uy = new float[T * ff];
            Kernels.swiglu(team, gm, um, a, h, scratch);
            Kernels.matmulMany(team, a, new Matrix[]{gm, um}, new float[][]{gy, uy});
            for (int i = 0; i < h.length; i++) assertThat(h[i]).isEqualTo(VectorMath.silu(gy[i]) * uy[i]);
        }
    }
}
