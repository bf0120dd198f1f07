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
import static moge.tensor.Q8_0Matrix.SPB;

/**
 * Q8_0's one-token kernels over a quad of rows (the layout of {@link Q8_0Matrix}: a quad's rows interleaved group
 * by group, their fp16 scales block by block), and the small pieces every Q8_0 path shares, so that each row
 * comes out bit for bit the same on all of them.
 */
final class Q8Quads {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SS = ShortVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Q8Quads() {
    }

    /**
     * A quad of rows (its groups from byte q on, its scales from byte s) against one token's integers
     * ({@link Q8Ints}; the token's shorts from x.lo[io], x.hi[io], its block scales from x.d[dOff]): the four rows' accumulators into lanes[off, off + 4L). Per group each row's 4L bytes are
     * read as 2L shorts; their low and high bytes (sign-extended by shifts) multiply the token's integers in
     * 16 bits, and each lane adds its two products there (Q8Ints keeps 128 (|q_i| + |q_i+L|) within a short).
     * The low and the high short of int lane j then hold the exact sums that Q8_0Matrix's dot1 forms in lane j
     * of the group's first and second block (at 256 bits, two halves of its one block), so each row's
     * accumulator takes the same values in the same order as there. Three shifts, two multiplies and an add per
     * 4L values, against a shift pair and a conversion per L values for widening them to float.
     * <p>
     * With {@code scaleProducts} (8 floats of scratch; null at 256 bits, or where a scale is not finite) a group's eight
     * scale products (the quad's four rows times its two blocks) come from one pass of vectors
     * ({@link TileKernels#widen}, exact for finite halves, times the blocks' dx: the products {@link #scaled} forms,
     * so the same bits) instead of a scalar conversion, multiply and broadcast per row and block, a third of the
     * kernel's operations: pangu-embedded Q8_0 decode 1.06-1.36x (six alternating pairs, Zen 5). No test on the
     * halves here: a branch on a value loaded from memory made the kernel 15-20% slower from DRAM.
     */
    // Written as two small loops: C2 parses a loop body once, and the rows' products and block sums written out
    // went past its inlining node budget (whatever it then leaves out of line runs with vectors as objects). The
    // products pass through prods, in L1.
    static void ints(MemorySegment data, long q, long s, int groups, Q8Ints x, int io, int dOff, int[] prods, float[] scaleProducts, float[] lanes, int off) {
        float[] dx = x.d;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long w = q + 4L * g * G;
            ShortVector xl = ShortVector.fromArray(SS, x.lo, io + 2 * L * g), xh = ShortVector.fromArray(SS, x.hi, io + 2 * L * g);
            for (int i = 0; i < 4; i++) {
                ShortVector v = ShortVector.fromMemorySegment(SS, data, w + (long) i * G, LE);
                v.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8).mul(xl)
                        .add(v.lanewise(VectorOperators.ASHR, 8).mul(xh)).reinterpretAsInts().intoArray(prods, i * L);
            }
            if (scaleProducts != null) {
                TileKernels.widen(data, s + 16L * g).mul(FloatVector.broadcast(FloatVector.SPECIES_256, dx[dOff + 2 * g]).blend(dx[dOff + 2 * g + 1], SECOND_BLOCK)).intoArray(scaleProducts, 0);
                for (int blk = 0; blk < 2; blk++) {
                    a0 = blockSums(IntVector.fromArray(IS, prods, 0), blk).fma(FloatVector.broadcast(FS, scaleProducts[4 * blk]), a0);
                    a1 = blockSums(IntVector.fromArray(IS, prods, L), blk).fma(FloatVector.broadcast(FS, scaleProducts[4 * blk + 1]), a1);
                    a2 = blockSums(IntVector.fromArray(IS, prods, 2 * L), blk).fma(FloatVector.broadcast(FS, scaleProducts[4 * blk + 2]), a2);
                    a3 = blockSums(IntVector.fromArray(IS, prods, 3 * L), blk).fma(FloatVector.broadcast(FS, scaleProducts[4 * blk + 3]), a3);
                }
                continue;
            }
            for (int blk = 0; blk < BPG; blk++) {
                int b = BPG * g + blk;
                long bits = data.get(Layouts.I64, s + 8L * b); // the quad's four fp16 scales of block b
                float d = dx[dOff + b];
                a0 = blockSums(IntVector.fromArray(IS, prods, 0), blk).fma(scaled(bits, 0, d), a0);
                a1 = blockSums(IntVector.fromArray(IS, prods, L), blk).fma(scaled(bits, 1, d), a1);
                a2 = blockSums(IntVector.fromArray(IS, prods, 2 * L), blk).fma(scaled(bits, 2, d), a2);
                a3 = blockSums(IntVector.fromArray(IS, prods, 3 * L), blk).fma(scaled(bits, 3, d), a3);
            }
        }
        a0.intoArray(lanes, off);
        a1.intoArray(lanes, off + L);
        a2.intoArray(lanes, off + 2 * L);
        a3.intoArray(lanes, off + 3 * L);
    }

    /** Lanes 4..7 of a group's eight scales: its second block's. */
    private static final VectorMask<Float> SECOND_BLOCK = VectorMask.fromLong(FloatVector.SPECIES_256, 0xF0L);

    /**
     * A quad as Q8_0Matrix's dot1 sums it, each int8 weight widened to float and multiplied by the integers at x[xo]
     * as floats (block scales at dx[dOff]): rows of up to {@link Q8_0Matrix#SHORT_GROUPS} groups, where {@link #ints} ran slower (2048x192 on
     * one thread, 0.82-0.88x the float kernel on float activations, this 0.92-0.95x: the products' pass through
     * memory adds latency that a few groups do not hide).
     */
    static void floats(MemorySegment data, long q0, long s, int groups, float[] x, int xo, float[] dx, int dOff, float[] lanes, int off) {
        long q1 = q0 + G, q2 = q1 + G, q3 = q2 + G;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            long go = 4L * c;
            IntVector v0 = IntVector.fromMemorySegment(IS, data, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, data, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, data, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, data, q3 + go, LE);
            for (int blk = 0; blk < BPG; blk++) {
                FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
                for (int k = blk * SPB; k < (blk + 1) * SPB; k++) {
                    FloatVector xv = FloatVector.fromArray(FS, x, xo + c + k * L);
                    p0 = slice(v0, k).fma(xv, p0);
                    p1 = slice(v1, k).fma(xv, p1);
                    p2 = slice(v2, k).fma(xv, p2);
                    p3 = slice(v3, k).fma(xv, p3);
                }
                int b = c / 32 + blk;
                long bits = data.get(Layouts.I64, s + 8L * b);
                float d = dx[dOff + b];
                a0 = p0.fma(scaled(bits, 0, d), a0);
                a1 = p1.fma(scaled(bits, 1, d), a1);
                a2 = p2.fma(scaled(bits, 2, d), a2);
                a3 = p3.fma(scaled(bits, 3, d), a3);
            }
        }
        a0.intoArray(lanes, off);
        a1.intoArray(lanes, off + L);
        a2.intoArray(lanes, off + 2 * L);
        a3.intoArray(lanes, off + 3 * L);
    }

    /**
     * Block blk's sums in a group's 16-bit products p, as float: the low short of each int lane (blk 0) or the
     * high one (blk 1), sign-extended; with one block a group, the two added.
     */
    private static FloatVector blockSums(IntVector p, int blk) {
        IntVector v = BPG == 1 ? p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                : p.lanewise(VectorOperators.LSHL, 16 - 16 * blk).lanewise(VectorOperators.ASHR, 16);
        return (FloatVector) v.convertShape(VectorOperators.I2F, FS, 0);
    }

    /** As Q8_0Matrix's scale, for the fp16 scale of row i among a quad's four in {@code bits}. */
    static FloatVector scaled(long bits, int i, float dx) {
        return times(Float.float16ToFloat((short) (bits >>> 16 * i)), dx);
    }

    /** A block's scale, w (the weights') times dx (the activations'), broadcast: every path forms it this way. */
    static FloatVector times(float w, float dx) {
        return FloatVector.broadcast(FS, w * dx);
    }

    /** Byte k (0..3) of each int lane, sign-extended, as float: the k-th slice of L values of a group. */
    static FloatVector slice(IntVector v, int k) {
        return (FloatVector) v.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24)
                .convertShape(VectorOperators.I2F, FS, 0);
    }
}
