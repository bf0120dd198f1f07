package moge.tensor;

import moge.format.DType;

import java.lang.management.ManagementFactory;

/**
 * Manual benchmark (not a test): four matrices of one type multiplied with T tokens on one thread, timed in the
 * thread's CPU time, best of REPS. On a host shared with other jobs wall-clock figures swing 2-3x (runs are
 * descheduled), CPU time far less, so a kernel or blocking change can be compared old/new there; cache
 * contention from the other jobs still shows. From the repository root, after a build:
 * <pre>
 * CP=moge-cli/target/moge.jar:moge-core/target/moge-core-0.1.0-SNAPSHOT-tests.jar
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp $CP moge.tensor.GemmCpuBench \
 *     Q4_K REPS T 1536x6144 6144x1536 ...
 * </pre>
 */
public final class GemmCpuBench {
    public static void main(String[] a) {
        DType type = DType.valueOf(a[0]);
        int reps = Integer.parseInt(a[1]), T = Integer.parseInt(a[2]);
        for (int i = 3; i < a.length; i++) {
            String[] rc = a[i].split("x");
            run(type, Integer.parseInt(rc[0]), Integer.parseInt(rc[1]), reps, T);
        }
    }

    private static void run(DType type, int rows, int cols, int reps, int T) {
        Matrix[] ms = new Matrix[4];
        for (int i = 0; i < ms.length; i++) {
            var raw = QuantTestData.random(type, rows, cols, i);
            ms[i] = type.quantized() ? QuantizedMatrices.create("w" + i, type, rows, cols, raw) : Matrix.of("w" + i, type, rows, cols, raw);
        }
        var bean = ManagementFactory.getThreadMXBean();
        try (Parallel team = new Parallel(1)) {
            float[] x = QuantTestData.floats(T * cols, 7);
            float[] y = new float[T * rows];
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < reps; rep++) {
                Activations act = new Activations().set(x, T, cols);
                long c0 = bean.getCurrentThreadCpuTime();
                for (Matrix m : ms) Kernels.matmul(team, m, act, y);
                best = Math.min(best, (bean.getCurrentThreadCpuTime() - c0) / 1e6);
            }
            double gflop = 2.0 * ms.length * rows * cols * (double) T / 1e9;
            System.out.printf("%s %dx%d x%d T=%d: %.1f ms CPU, %.1f GFLOP/s%n", type, rows, cols, ms.length, T, best, gflop / best * 1e3);
        }
    }
}
