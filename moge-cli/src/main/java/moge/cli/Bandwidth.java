package moge.cli;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.tensor.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The machine's read bandwidth as decode sees it: a read-only sweep (sum of floats, four independent
 * accumulators) over an off-heap buffer much larger than the caches, split over the same thread team as
 * the model. Decode only reads weights, so a read sweep, not a STREAM triad, is its ceiling. The best of
 * several passes is reported, as STREAM does.
 */
final class Bandwidth {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int CHUNK = 1 << 16;

    private Bandwidth() {
    }

    /** Bytes per second. */
    static double readSweep(Parallel team, long bytes, int passes) {
        long n = bytes / CHUNK * CHUNK;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(n, 4096);
            // touch every page (and give the sums something finite to add)
            for (long i = 0; i < n; i += 4096) s.set(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1f);
            int chunks = (int) (n / CHUNK);
            float[] sink = new float[team.threads()];
            double best = 0;
            for (int p = 0; p < passes; p++) {
                long t0 = System.nanoTime();
                team.forRange(chunks, 1, (c0, c1) -> {
                    float v = sum(s, (long) c0 * CHUNK, (long) c1 * CHUNK);
                    sink[c0 * sink.length / chunks] += v;
                });
                long ns = System.nanoTime() - t0;
                best = Math.max(best, n / (ns / 1e9));
            }
            if (Float.isNaN(sink[0])) throw new AssertionError();
            return best;
        }
    }

    private static float sum(MemorySegment s, long from, long to) {
        int step = FS.vectorByteSize();
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (long i = from; i < to; i += 4L * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(FS, s, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(FS, s, i + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(FS, s, i + 2L * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(FS, s, i + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
