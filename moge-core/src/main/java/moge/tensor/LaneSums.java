package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * An accumulator's lanes summed as a halving tree: lane i + lane i + L/2, then the same over the first half,
 * down to one value, in vector registers. Four rows' trees run together ({@link #sum4}): short rows spent a
 * quarter of their time storing their four accumulators and adding 64 floats one after another (Q8_0 rows of
 * 192 values, qwen3moe's expert down projections). Both forms add the same pairs, and float addition is
 * commutative, so a row's sum has the same bits in either, and in every JIT tier (unlike reduceLanes).
 */
final class LaneSums {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    // lane i takes lane i ^ w, for w = L/2, L/4, 2, 1 (static finals: constant shuffles for C2); which lanes
    // meet at each level is written out once more in sum(float[], int)
    private static final VectorShuffle<Float> SWAP_HALF = swap(L / 2), SWAP_QUARTER = swap(L / 4), SWAP2 = swap(2), SWAP1 = swap(1);
    // the lanes whose index has bit L/2 (L/4) set
    private static final VectorMask<Float> HIGH_HALF = high(L / 2), HIGH_QUARTER = high(L / 4);

    private LaneSums() {
    }

    private static VectorShuffle<Float> swap(int w) {
        int bit = Math.max(1, w);
        return VectorShuffle.fromOp(FS, i -> i ^ bit);
    }

    private static VectorMask<Float> high(int w) {
        boolean[] high = new boolean[L];
        for (int i = 0; i < L; i++) high[i] = (i & Math.max(1, w)) != 0;
        return VectorMask.fromArray(FS, high, 0);
    }

    /** Whether this machine's vectors are a width the trees are written for. */
    static final boolean SUPPORTED = L == 8 || L == 16;

    /**
     * The halving-tree sum of lanes[off, off + L) (L = 8 or 16), in scalar code: the kernels that sum one row
     * or one token at a time, where a vector tree's latency (about 50 cycles of shuffles and adds) stood between
     * one row and the next, while these 15 adds are four deep.
     */
    static float sum(float[] l, int o) {
        if (L == 16) {
            return (((l[o] + l[o + 8]) + (l[o + 4] + l[o + 12])) + ((l[o + 2] + l[o + 10]) + (l[o + 6] + l[o + 14])))
                    + (((l[o + 1] + l[o + 9]) + (l[o + 5] + l[o + 13])) + ((l[o + 3] + l[o + 11]) + (l[o + 7] + l[o + 15])));
        }
        return ((l[o] + l[o + 4]) + (l[o + 2] + l[o + 6])) + ((l[o + 1] + l[o + 5]) + (l[o + 3] + l[o + 7]));
    }

    /**
     * Four rows' accumulators, stored at lanes[off, off + 4L), summed each as {@link #sum} does it, into out[o .. o + 3].
     * The first two levels fold two vectors into one, a blend keeping each row's half; the rest fold within the
     * vector, which then holds the rows in groups of L/4 lanes, in the order 0, 2, 1, 3. The kernels pass
     * their accumulators through memory, not as arguments: C2 does not inline a call made once per four rows,
     * and vectors passed to a call it has not inlined are boxed.
     */
    static void sum4(float[] lanes, int off, float[] out, int o) {
        FloatVector a0 = FloatVector.fromArray(FS, lanes, off), a1 = FloatVector.fromArray(FS, lanes, off + L);
        FloatVector a2 = FloatVector.fromArray(FS, lanes, off + 2 * L), a3 = FloatVector.fromArray(FS, lanes, off + 3 * L);
        FloatVector b01 = a0.add(a0.rearrange(SWAP_HALF)).blend(a1.add(a1.rearrange(SWAP_HALF)), HIGH_HALF);
        FloatVector b23 = a2.add(a2.rearrange(SWAP_HALF)).blend(a3.add(a3.rearrange(SWAP_HALF)), HIGH_HALF);
        FloatVector c = b01.add(b01.rearrange(SWAP_QUARTER)).blend(b23.add(b23.rearrange(SWAP_QUARTER)), HIGH_QUARTER);
        if (L == 16) c = c.add(c.rearrange(SWAP2));
        c = c.add(c.rearrange(SWAP1));
        int q = L / 4;
        out[o] = c.lane(0);
        out[o + 1] = c.lane(2 * q);
        out[o + 2] = c.lane(q);
        out[o + 3] = c.lane(3 * q);
    }
}
