package moge.tensor;

import moge.format.DType;

import java.util.Arrays;

/**
 * Manual micro-benchmark (not a test): matrix-vector or matrix-matrix products over a working set of many
 * matrices, so decode figures come from DRAM, not cache. Run from the test classpath:
 * {@code java ... moge.tensor.KernelBench TYPE ROWS COLS COUNT THREADS TOKENS [REPS]}.
 */
public final class KernelBench {
    public static void main(String[] a) {
        DType type = DType.valueOf(a[0]);
        int rows = Integer.parseInt(a[1]), cols = Integer.parseInt(a[2]), count = Integer.parseInt(a[3]);
        int threads = Integer.parseInt(a[4]), T = Integer.parseInt(a[5]);
        int reps = a.length > 6 ? Integer.parseInt(a[6]) : 10;
        Matrix[] ms = new Matrix[count];
        for (int i = 0; i < count; i++) ms[i] = make(type, rows, cols, i);
        long bytes = 0;
        for (Matrix m : ms) bytes += m.bytes();
        float[] xs = QuantTestData.floats(T * cols, 1);
        Activations x = new Activations().set(xs, T, cols);
        float[] y = new float[T * rows];
        double[] gbs = new double[reps], cpu = new double[reps];
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        try (Parallel team = new Parallel(threads)) {
            Runnable pass = () -> {
                for (Matrix m : ms) {
                    x.invalidate();
                    Kernels.matmul(team, m, x, y);
                }
            };
            // warm up for a few seconds, not a few passes: the Q4_0 kernel on two threads took ~10 passes
            // of this size (1-2 s) to reach its steady speed, and those slow passes had pulled the median down
            long warm = System.nanoTime() + 3_000_000_000L;
            while (System.nanoTime() < warm) pass.run();
            for (int rep = 0; rep < reps; rep++) {
                long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                pass.run();
                long ns = System.nanoTime() - t0, cns = mx.getCurrentThreadCpuTime() - c0;
                gbs[rep] = bytes / (double) ns;
                cpu[rep] = bytes / (double) cns;
                System.out.printf("%s %dx%d x%d T=%d threads=%d: %.2f ms, %.1f GB/s, %.1f GFLOP/s%n", type, rows, cols, count, T,
                        threads, ns / 1e6, bytes / (double) ns, 2.0 * rows * cols * count * T / ns);
            }
        }
        Arrays.sort(gbs);
        Arrays.sort(cpu);
        double flopPerByte = 2.0 * rows * cols * count * T / bytes;
        System.out.printf("median %.1f GB/s wall, %.1f GB/s per cpu-second of the calling thread (threads=1: load-independent);"
                + " %.1f GFLOP/s wall, %.1f per cpu-second%n", gbs[reps / 2], cpu[reps / 2], gbs[reps / 2] * flopPerByte, cpu[reps / 2] * flopPerByte);
    }

    static Matrix make(DType type, int rows, int cols, long seed) {
        return Matrix.of("w", type, rows, cols, QuantTestData.random(type, rows, cols, seed));
    }
}
