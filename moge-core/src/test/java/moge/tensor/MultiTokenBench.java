package moge.tensor;

import moge.format.DType;

import java.util.Arrays;

/**
 * Manual benchmark (not a test): eight matrices of one storage type multiplied with T tokens through
 * {@link Kernels#matmul}, best of REPS; what a pass over T tokens costs against one (batched decode,
 * speculative verification, prefill). From the repository root, after a build:
 * <pre>
 * CP=moge-cli/target/moge.jar:moge-core/target/moge-core-0.1.0-SNAPSHOT-tests.jar
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp $CP moge.tensor.MultiTokenBench \
 *     BF16|F32|Q8_0|Q4_0 ROWS COLS REPS THREADS 1,2,4,8,16,64
 * </pre>
 */
public final class MultiTokenBench {
    public static void main(String[] a) {
        DType type = DType.valueOf(a[0]);
        int rows = Integer.parseInt(a[1]), cols = Integer.parseInt(a[2]), reps = Integer.parseInt(a[3]);
        int[] ts = Arrays.stream(a[5].split(",")).mapToInt(Integer::parseInt).toArray();
        int maxT = Arrays.stream(ts).max().orElse(1);
        Matrix[] ms = new Matrix[8];
        for (int i = 0; i < ms.length; i++) {
            var raw = QuantTestData.random(type, rows, cols, i);
            ms[i] = type.quantized() ? QuantizedMatrices.create("w" + i, type, rows, cols, raw) : Matrix.of("w" + i, type, rows, cols, raw);
        }
        try (Parallel team = new Parallel(Integer.parseInt(a[4]))) {
            float[] x = QuantTestData.floats(maxT * cols, 7);
            float[] y = new float[maxT * rows];
            double[] best = new double[ts.length];
            Arrays.fill(best, Double.MAX_VALUE);
            for (int rep = 0; rep < reps; rep++) {
                for (int i = 0; i < ts.length; i++) {
                    Activations act = new Activations().set(x, ts[i], cols);
                    long t0 = System.nanoTime();
                    for (Matrix m : ms) Kernels.matmul(team, m, act, y);
                    best[i] = Math.min(best[i], (System.nanoTime() - t0) / 1e6);
                }
            }
            for (int i = 0; i < ts.length; i++) {
                System.out.printf("%s %dx%d x8  T=%3d %9.2f ms  x%.2f of T=1%n", type, rows, cols, ts[i], best[i], best[i] / best[0]);
            }
        }
    }
}
