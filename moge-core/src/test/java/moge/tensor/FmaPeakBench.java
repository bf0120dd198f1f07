package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Manual benchmark (not a test): the machine's float FMA throughput as the Vector API reaches it, so kernel
 * figures can be stated as a fraction of a measured peak rather than of a data-sheet one. Twelve independent
 * FMA chains per thread (more than latency x issue width), no memory traffic; every thread its own chains.
 * {@code java ... moge.tensor.FmaPeakBench THREADS [REPS]}; prints GFLOP/s (an FMA counts as two).
 */
public final class FmaPeakBench {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 12;

    public static void main(String[] a) throws InterruptedException {
        int threads = Integer.parseInt(a[0]);
        int reps = a.length > 1 ? Integer.parseInt(a[1]) : 5;
        for (int i = 0; i < 20; i++) chains(1_000_000, i); // compile the loop before timing it
        long iters = 100_000_000L;
        double best = 0;
        for (int rep = 0; rep < reps; rep++) {
            Thread[] team = new Thread[threads];
            float[] sink = new float[threads];
            long t0 = System.nanoTime();
            for (int k = 0; k < threads; k++) {
                final int member = k;
                team[k] = Thread.ofPlatform().start(() -> sink[member] = chains(iters, member));
            }
            for (Thread t : team) t.join();
            double seconds = (System.nanoTime() - t0) / 1e9;
            double gflops = (double) threads * iters * CHAINS * FS.length() * 2 / seconds / 1e9;
            best = Math.max(best, gflops);
            System.out.printf("threads=%d  %.1f GFLOP/s  (%.0f)%n", threads, gflops, sink[0]);
        }
        System.out.printf("best: %.1f GFLOP/s on %d threads, %d-lane vectors%n", best, threads, FS.length());
    }

    private static float chains(long iters, float seed) {
        FloatVector m = FloatVector.broadcast(FS, 0.999999f), c = FloatVector.broadcast(FS, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(FS, seed), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3);
        FloatVector a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7);
        FloatVector a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11);
        for (long i = 0; i < iters; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
