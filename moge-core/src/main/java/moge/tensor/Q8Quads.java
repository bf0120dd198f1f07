package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static moge.tensor.Q8_0Matrix.BPG;
import static moge.tensor.Q8_0Matrix.G;
import static moge.tensor.Q8_0Matrix.L;

/**
 * Q8_0's one-token kernel over a quad of rows (the layout of {@link Q8_0Matrix}: a quad's rows interleaved group
 * by group, their fp16 scales block by block), and the small pieces every Q8_0 path shares, so that each row
 * comes out bit for bit the same on all of them.
 */
final class Q8Quads {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SS = ShortVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q8Quads() {
    }

    /**
     * A quad of rows (its groups from byte q on, its scales from byte s) against one token's integers
     * ({@link Q8Ints}; the token's shorts from x.lo[io], x.hi[io], its block scales from x.d[dOff]): the four rows'
     * accumulators into lanes[off, off + 4L). Per group each row's 4L bytes are read as 2L shorts; their low and
     * high bytes (sign-extended by shifts) multiply the token's integers in 16 bits, and each short adds its two
     * products there (Q8Ints keeps 128 (|q_i| + |q_i+8|) within a short). Both shorts of an int lane belong to one
     * block ({@link Q8Interleave#valueOf}), so the lane's two are added as ints and widened to float once: the exact
     * sum that Q8_0Matrix's dot1 forms in that lane from its four slices, times the same scale vector, so each
     * row's accumulator takes the same values in the same order as there.
     * <p>
     * The scales are converted one by one (Float.float16ToFloat): a vector conversion of a group's eight
     * (16 bytes, widened) cost more than all the products, 1.5x slower in the second-level cache. Short rows run
     * here too: a float kernel over the weights widened slice by slice had been faster up to 8 groups while the
     * products went through memory, and is now slower (2048x192, one thread: 13.7 against 17.1 GB/s; 2048x384:
     * 13.1 against 21.0).
     */
    // The rows are a loop whose body C2 parses once (the accumulator picked by i folds when it unrolls): four rows
    // written out went past its inlining node budget, and whatever it then leaves out of line runs with vectors
    // as objects.
    static void ints(MemorySegment data, long q, long s, int groups, Q8Ints x, int io, int dOff, float[] lanes, int off) {
        float[] dx = x.d;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long w = q + 4L * g * G, at = s + 8L * BPG * g;
            ShortVector xl = ShortVector.fromArray(SS, x.lo, io + 2 * L * g), xh = ShortVector.fromArray(SS, x.hi, io + 2 * L * g);
            long bits0 = data.get(Layouts.I64, at), bits1 = BPG == 2 ? data.get(Layouts.I64, at + 8) : bits0; // the quad's fp16 scales, block by block
            float d0 = dx[dOff + BPG * g], d1 = dx[dOff + BPG * g + BPG - 1];
            for (int i = 0; i < 4; i++) {
                FloatVector sc = group(half(bits0, i), d0, half(bits1, i), d1);
                FloatVector a = laneSums(ShortVector.fromMemorySegment(SS, data, w + (long) i * G, LE), xl, xh)
                        .fma(sc, i == 0 ? a0 : i == 1 ? a1 : i == 2 ? a2 : a3);
                if (i == 0) a0 = a;
                else if (i == 1) a1 = a;
                else if (i == 2) a2 = a;
                else a3 = a;
            }
        }
        a0.intoArray(lanes, off);
        a1.intoArray(lanes, off + L);
        a2.intoArray(lanes, off + 2 * L);
        a3.intoArray(lanes, off + 3 * L);
    }

    /** A row's group of weights v (2L shorts) against the token's shorts: each int lane's four products summed, as float. */
    private static FloatVector laneSums(ShortVector v, ShortVector xl, ShortVector xh) {
        IntVector p = v.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(xl)
                .add(v.lanewise(VectorOperators.ASHR, 8).mul(xh)).reinterpretAsInts();
        return (FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                .add(p.lanewise(VectorOperators.ASHR, 16)).convertShape(VectorOperators.I2F, FS, 0);
    }

    /** Lanes 8..15: a group's second block at 512 bits. */
    private static final VectorMask<Float> SECOND_BLOCK = VectorMask.fromLong(FS, 0xFF00L);

    /**
     * A group's scale vector: the first block's scale (w, the weights', times dx, the activations') in the lanes
     * of its values, at 512 bits the second block's in lanes 8..15. Every path forms it this way, so that a row's
     * sums agree bit for bit across them.
     */
    static FloatVector group(float w0, float dx0, float w1, float dx1) {
        return pair(w0 * dx0, w1 * dx1);
    }

    /**
     * {@code first} in the lanes of a group's first block, {@code second} in those of its second (at 256 bits, one
     * block: first everywhere). The kernels of several tokens form the scale vector as pair(w0, w1) times pair(dx0,
     * dx1): the same products, lane by lane, as {@link #group}, in fewer C2 nodes (eight scalar products, broadcasts
     * and blends a group had put those kernels past C2's inlining budget, 2x slower).
     */
    static FloatVector pair(float first, float second) {
        FloatVector v = FloatVector.broadcast(FS, first);
        return BPG == 1 ? v : v.blend(second, SECOND_BLOCK);
    }

    /** The fp16 scale of row i among a quad's four in {@code bits}, as float. */
    static float half(long bits, int i) {
        return Float.float16ToFloat((short) (bits >>> 16 * i));
    }

    /** Byte k (0..3) of each int lane, sign-extended, as float: the k-th slice of L values of a group ({@link Q8Interleave#valueOf}). */
    static FloatVector slice(IntVector v, int k) {
        return (FloatVector) v.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24)
                .convertShape(VectorOperators.I2F, FS, 0);
    }
}
