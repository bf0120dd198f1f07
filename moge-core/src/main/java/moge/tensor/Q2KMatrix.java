package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

import static moge.tensor.TileKernels.FS;
import static moge.tensor.TileKernels.HALF;
import static moge.tensor.TileKernels.IS;
import static moge.tensor.TileKernels.LE;
import static moge.tensor.TileKernels.SS;
import static moge.tensor.TileKernels.SUMS_BLOCK;
import static moge.tensor.TileKernels.WS;
import static moge.tensor.TileKernels.wideLanes;
import static moge.tensor.TileKernels.TR;
import static moge.tensor.TileKernels.lanes;

/**
 * Q2_K in {@link Q2KTiles}' tiles: one token multiplies 2-bit codes with integer activations in 16-bit lanes, 16
 * rows per vector, on Q3_K's grid ({@link Activations#q3Lanes}, shared with Q3_K tensors that read the same input,
 * as a Q2_K mixture's attn_v and ffn_down do): codes 0..3 need 3 * sum|q| of a 16-value group to fit a short, which
 * that grid's 4 * sum|q| bound gives with room. Q2_K scales each 16 values, so the integer pass keeps two sums per
 * block of 32 as Q3_K's does. The float pass applies per group the integers sc and m (m times the activations'
 * group sum, {@link Q8Lanes#groups}, which no row changes), per block the activations' scale, per super-block d and
 * dmin. More tokens run the panel GEMM over rows decoded to float; with llama.cpp's int8 activations
 * ({@code --activations q8}) every product goes through the GEMM on the Q8 grid, as for {@link Q3KMatrix}.
 */
final class Q2KMatrix extends KQuantTileMatrix {
    private static final int BLOCK = Q2KTiles.BLOCK;
    private static final int V = Q2KTiles.VECTORS;

    /**
     * Up to this many tokens, one single-token pass each ({@link KQuantTileMatrix}). At 512 bits 12: eight 2048x2048
     * products at 12 tokens 11.5-13.9 ms against 16.7-25.4 in the GEMM (6144x1536 25.7-25.8 against 37.7-45.3); at
     * 16 about even.
     * Elsewhere 9, where the GEMM's tile holds 16 tokens without padding (not measured there; the GEMM's cost is
     * mostly decoding, the same at any token count up to a tile).
     */
    static final int FEW_TOKENS = Gemm.WIDE ? 12 : 9;

    Q2KMatrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, DType.Q2_K, rows, cols, packed, roundActivations, Q2KTiles.VECTORS, TileKernels.HEAD, 2, FEW_TOKENS);
    }

    @Override
    Q8Lanes integerForm(Activations x) {
        return x.q3Lanes();
    }

    @Override
    public float plainDot(int m, Q8Lanes a) {
        return Q2KTiles.plainDot(data, plainRow(m), nb / 8, a);
    }

    @Override
    void decodeTileRow(int t, int row, int b0, int b1, float[] dst, int out, int[] packed) {
        Q2KTiles.decodeRow(data, layout.blockAt(t, b0), layout.stride(t), layout.step(t), layout.headsAt(t), row, b0, b1, dst, out);
    }

    /** Code f (0..7) of each short lane. Called with constant f from unrolled loops, where C2 folds the choice. */
    private static ShortVector code(ShortVector w, int f) {
        return f == 7 ? w.lanewise(VectorOperators.LSHR, 14) : w.lanewise(VectorOperators.LSHR, 2 * f).and((short) 3);
    }

    /**
     * The group sums of code * q (16 bits), in the three runs {@link KQuantTileMatrix#integerSums} chooses from: group
     * g (two per block) at g * {@link TileKernels#SUMS_BLOCK}, 16 shorts per tile. Vectors 0 and 1 of a block are
     * its first group, 2 and 3 its second.
     */
    @Override
    void tileSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int so = layout.stride(t), step = layout.step(t);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += step) {
            for (int g = 0; g < 2; g++) {
                ShortVector c = ShortVector.zero(SS);
                for (int v = 2 * g; v < 2 * g + 2; v++) {
                    ShortVector w = TileKernels.load(data, o + (long) so * v);
                    for (int f = 0, x = b * 32 + 8 * v; f < 8; f++, x++) c = c.add(code(w, f).mul(lanes(q[x])));
                }
                c.intoArray(sums, (2 * b + g) * SUMS_BLOCK);
            }
        }
    }

    @Override
    void pairSums256(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            for (int g = 0; g < 2; g++) {
                ShortVector c = ShortVector.zero(SS), e = c;
                for (int v = 2 * g; v < 2 * g + 2; v++) {
                    ShortVector w = TileKernels.load(data, o + 4L * TR * v), u = TileKernels.load(data, o + 2L * TR + 4L * TR * v);
                    for (int f = 0, x = b * 32 + 8 * v; f < 8; f++, x++) {
                        ShortVector xv = lanes(q[x]);
                        c = c.add(code(w, f).mul(xv));
                        e = e.add(code(u, f).mul(xv));
                    }
                }
                c.intoArray(sums, (2 * b + g) * SUMS_BLOCK);
                e.intoArray(sums, (2 * b + g) * SUMS_BLOCK + TR);
            }
        }
    }

    @Override
    void pairSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            for (int g = 0; g < 2; g++) {
                ShortVector c = ShortVector.zero(WS);
                for (int v = 2 * g; v < 2 * g + 2; v++) {
                    ShortVector w = TileKernels.wideLoad(data, o + 4L * TR * v);
                    for (int f = 0, x = b * 32 + 8 * v; f < 8; f++, x++) c = c.add(code(w, f).mul(wideLanes(q[x])));
                }
                c.intoArray(sums, (2 * b + g) * SUMS_BLOCK);
            }
        }
    }

    /**
     * Rows 8 * half .. 8 * half + 7: per block the two group sums times their sc, and the activations' two group
     * sums times the rows' m, each added as integers (at most 2 * 15 * 2^15, exact in float), times the
     * activations' scale; per super-block the first times d, the second times -dmin. The group sums are the low
     * (half 0) or high (1) shorts of the ints at {@code slot}.
     */
    @Override
    void finishHalf(long scales, int step, long heads, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        float[] dx = a.d;
        int[] gs = a.groups;
        long o = scales + half * TR, head = heads + half * TR;
        int up = 16 - 16 * half;
        FloatVector acc = FloatVector.zero(FS);
        for (int s = 0; s < nb / 8; s++) {
            FloatVector scaled = FloatVector.zero(FS), mins = scaled;
            for (int b = 8 * s; b < 8 * s + 8; b++, o += step) {
                IntVector s0 = TileKernels.halfSums(sums, 2 * b * SUMS_BLOCK + slot, up), s1 = TileKernels.halfSums(sums, (2 * b + 1) * SUMS_BLOCK + slot, up);
                // per row a short: the first group's sc | m << 4 in the low byte, the second's in the high one
                IntVector sm = (IntVector) ShortVector.fromMemorySegment(HALF, data, o, LE).convertShape(VectorOperators.S2I, IS, 0);
                IntVector dot = s0.mul(sm.and(15)).add(s1.mul(sm.lanewise(VectorOperators.LSHR, 8).and(15)));
                IntVector m = sm.lanewise(VectorOperators.LSHR, 4).and(15).mul(gs[2 * b])
                        .add(sm.lanewise(VectorOperators.LSHR, 12).and(15).mul(gs[2 * b + 1]));
                FloatVector d = FloatVector.broadcast(FS, dx[b]);
                scaled = TileKernels.toFloat(dot).fma(d, scaled);
                mins = TileKernels.toFloat(m).fma(d, mins);
            }
            long h = head + (long) s * TileKernels.HEAD;
            acc = scaled.fma(TileKernels.widen(data, h), acc).sub(mins.mul(TileKernels.widen(data, h + 2 * TR)));
        }
        acc.intoArray(y, yo);
    }
}
