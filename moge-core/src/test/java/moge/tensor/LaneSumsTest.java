package moge.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/** The halving-tree lane sums: the four-row vector form and the one-row scalar form give the same bits. */
class LaneSumsTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    /** The definition, plainly: lane i + lane i + w for w = L/2 .. 1, on a copy. */
    private static float tree(float[] lanes, int off) {
        float[] l = java.util.Arrays.copyOfRange(lanes, off, off + L);
        for (int w = L / 2; w >= 1; w /= 2) {
            for (int i = 0; i < w; i++) l[i] += l[i + w];
        }
        return l[0];
    }

    /** Values over many magnitudes, so that a different order of additions gives different bits. */
    private static float[] values(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((rnd.nextDouble() - 0.5) * Math.pow(10, rnd.nextInt(9) - 4));
        return v;
    }

    @Test
    void fourRowsInVectorsMatchEachRowAlone() {
        assumeThat(LaneSums.SUPPORTED).isTrue();
        Random rnd = new Random(7);
        int differsFromLeftToRight = 0;
        for (int trial = 0; trial < 2000; trial++) {
            int off = rnd.nextInt(3) * L;
            float[] lanes = values(rnd, off + 4 * L);
            float[] out = new float[6];
            LaneSums.sum4(lanes, off, out, 1);
            for (int i = 0; i < 4; i++) {
                float want = tree(lanes, off + i * L);
                assertThat(Float.floatToRawIntBits(out[1 + i])).as("trial %d row %d", trial, i).isEqualTo(Float.floatToRawIntBits(want));
                assertThat(Float.floatToRawIntBits(LaneSums.sum(lanes, off + i * L))).isEqualTo(Float.floatToRawIntBits(want));
                if (want != VectorMath.sumLanes(lanes, off + i * L, L)) differsFromLeftToRight++;
            }
            assertThat(out[0]).isZero();
            assertThat(out[5]).isZero();
        }
        // the inputs are such that the order shows: the test would notice a left-to-right sum
        assertThat(differsFromLeftToRight).isGreaterThan(100);
    }
}
