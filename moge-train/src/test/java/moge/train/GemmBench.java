package moge.train;

import moge.tensor.Parallel;

/** Manual throughput probe (not a test): java -cp ... moge.train.GemmBench */
public final class GemmBench {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        try (Parallel team = new Parallel(threads)) {
            Gemm g = new Gemm(team);
            int[][] shapes = {{4096, 128, 128}, {4096, 128, 512}, {4096, 512, 128}, {1024, 128, 96}};
            for (int[] s : shapes) {
                int rows = s[0], in = s[1], out = s[2];
                float[] x = new float[rows * in], w = new float[out * in], y = new float[rows * out], dy = new float[rows * out];
                float[] dx = new float[rows * in], dw = new float[out * in];
                java.util.Arrays.fill(x, 0.5f); java.util.Arrays.fill(w, 0.25f); java.util.Arrays.fill(dy, 0.1f);
                for (int rep = 0; rep < 3; rep++) {
                    int it = 50;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < it; i++) g.linear(x, 0, rows, in, w, 0, out, y, 0, false);
                    long t1 = System.nanoTime();
                    for (int i = 0; i < it; i++) g.linearInputGrad(dy, 0, rows, out, w, 0, in, dx, 0, false);
                    long t2 = System.nanoTime();
                    for (int i = 0; i < it; i++) g.linearWeightGrad(dy, 0, rows, out, x, 0, in, dw, 0);
                    long t3 = System.nanoTime();
                    double fl = 2.0 * rows * in * out * it;
                    System.out.printf("%s fwd %.1f  dX %.1f  dW %.1f GFLOP/s%n", java.util.Arrays.toString(s),
                            fl / (t1 - t0), fl / (t2 - t1), fl / (t3 - t2));
                }
            }
        }
    }
}
