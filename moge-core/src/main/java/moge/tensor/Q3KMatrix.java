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
 * Q3_K in {@link Q3KTiles}' tiles: one token multiplies signed 3-bit codes with integer activations in 16-bit
 * lanes as Q4_K and Q5_K do, 16 rows per vector, on a grid of its own ({@link Activations#q3Lanes}). Q3_K scales
 * each 16 values, so the integer pass keeps two sums per block of 32 (sums slot 2b and 2b + 1, which is why
 * {@link TileKernels#matmulOne} is told of twice the blocks); |code| <= 4, so a group's sum of code * q stays a
 * short while 4 * sum|q| does, and no offset is taken off. The float pass applies per group the integer sc - 32,
 * per block the activations' scale, per super-block d. More tokens run the panel GEMM over rows decoded to float;
 * with llama.cpp's int8 activations ({@code --activations q8}) the sums would not fit, so every product then goes
 * through the GEMM on the Q8 grid, as for {@link Q5KMatrix}.
 */
final class Q3KMatrix extends KQuantTileMatrix {
    private static final int BLOCK = Q3KTiles.BLOCK;
    private static final int V = Q3KTiles.VECTORS;

    /**
     * Up to this many tokens, one single-token pass each ({@link KQuantTileMatrix}). At 512 bits 16: eight 2048x2048
     * products at 8 tokens 6.5 ms against 14.6 in the GEMM, at 16 tokens 12.2 against 18.4 (6144x1536 at 8: 14.2
     * against 33.3).
     * Elsewhere 8, where the GEMM's tile holds 16 tokens without padding (not measured there; the GEMM's cost is
     * mostly decoding, the same at any token count up to a tile).
     */
    static final int FEW_TOKENS = Gemm.WIDE ? 16 : 8;

    Q3KMatrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, DType.Q3_K, rows, cols, packed, roundActivations, Q3KTiles.VECTORS, Q3KTiles.HEAD, 2, FEW_TOKENS);
    }

    @Override
    Q8Lanes integerForm(Activations x) {
        return x.q3Lanes();
    }

    @Override
    public float plainDot(int m, Q8Lanes a) {
        return Q3KTiles.plainDot(data, plainRow(m), nb / 8, a);
    }

    @Override
    void decodeTileRow(int t, int row, int b0, int b1, float[] dst, int out, int[] packed) {
        Q3KTiles.decodeRow(data, layout.blockAt(t, b0), layout.stride(t), layout.step(t), layout.headsAt(t), row, b0, b1, dst, out, packed);
    }

    /**
     * Field k (0..4) of each short lane as a signed code: a shift pair, the top field one arithmetic shift.
     * Called with constant k from hot loops, where C2 inlines it and folds the choice.
     */
    private static ShortVector field(ShortVector w, int k) {
        return k == 4 ? w.lanewise(VectorOperators.ASHR, 13)
                : w.lanewise(VectorOperators.LSHL, 13 - 3 * k).lanewise(VectorOperators.ASHR, 13);
    }

    /**
     * The group sums of code * q (16 bits), in the three runs {@link KQuantTileMatrix#integerSums} chooses from: group
     * g (two per block) at g * {@link TileKernels#SUMS_BLOCK}, 16 shorts per tile. Short i of a block holds positions i + 7f
     * for fields f = 0..4, so fields 0 and 1 are group 0, fields 3 and 4 group 1, and field 2 (positions 14..20)
     * group 0 in shorts 0 and 1 only. Field 4 of shorts 4..6 is a code 0 that meets the integers after the block
     * and adds nothing: one loop body, which keeps the pair kernel within C2's inlining budget (split by group
     * it ran out, left vector calls out of line and was 10x slower).
     */
    @Override
    void tileSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int so = layout.stride(t), step = layout.step(t);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += step) {
            ShortVector c0 = ShortVector.zero(SS), c1 = c0;
            long oi = o; // pointer steps, as in Q4_0Matrix
            for (int i = 0, x = b * 32; i < V; i++, x++, oi += so) {
                ShortVector w = TileKernels.load(data, oi);
                c0 = c0.add(field(w, 0).mul(lanes(q[x]))).add(field(w, 1).mul(lanes(q[x + 7])));
                c1 = c1.add(field(w, 3).mul(lanes(q[x + 21]))).add(field(w, 4).mul(lanes(q[x + 28])));
                ShortVector f = field(w, 2).mul(lanes(q[x + 14]));
                if (i < 2) c0 = c0.add(f);
                else c1 = c1.add(f);
            }
            c0.intoArray(sums, 2 * b * SUMS_BLOCK);
            c1.intoArray(sums, (2 * b + 1) * SUMS_BLOCK);
        }
    }

    @Override
    void pairSums256(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c0 = ShortVector.zero(SS), c1 = c0, e0 = c0, e1 = c0;
            for (int i = 0, x = b * 32; i < V; i++, x++) {
                ShortVector w = TileKernels.load(data, o + 4L * TR * i), v = TileKernels.load(data, o + 2L * TR + 4L * TR * i);
                ShortVector x0 = lanes(q[x]), x1 = lanes(q[x + 7]), x2 = lanes(q[x + 14]);
                ShortVector x3 = lanes(q[x + 21]), x4 = lanes(q[x + 28]);
                c0 = c0.add(field(w, 0).mul(x0)).add(field(w, 1).mul(x1));
                e0 = e0.add(field(v, 0).mul(x0)).add(field(v, 1).mul(x1));
                c1 = c1.add(field(w, 3).mul(x3)).add(field(w, 4).mul(x4));
                e1 = e1.add(field(v, 3).mul(x3)).add(field(v, 4).mul(x4));
                ShortVector f = field(w, 2).mul(x2), g = field(v, 2).mul(x2);
                if (i < 2) {
                    c0 = c0.add(f);
                    e0 = e0.add(g);
                } else {
                    c1 = c1.add(f);
                    e1 = e1.add(g);
                }
            }
            c0.intoArray(sums, 2 * b * SUMS_BLOCK);
            e0.intoArray(sums, 2 * b * SUMS_BLOCK + TR);
            c1.intoArray(sums, (2 * b + 1) * SUMS_BLOCK);
            e1.intoArray(sums, (2 * b + 1) * SUMS_BLOCK + TR);
        }
    }

    @Override
    void pairSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c0 = ShortVector.zero(WS), c1 = c0;
            for (int i = 0, x = b * 32; i < V; i++, x++) {
                ShortVector w = TileKernels.wideLoad(data, o + 4L * TR * i);
                c0 = c0.add(field(w, 0).mul(wideLanes(q[x]))).add(field(w, 1).mul(wideLanes(q[x + 7])));
                c1 = c1.add(field(w, 3).mul(wideLanes(q[x + 21]))).add(field(w, 4).mul(wideLanes(q[x + 28])));
                ShortVector f = field(w, 2).mul(wideLanes(q[x + 14]));
                if (i < 2) c0 = c0.add(f);
                else c1 = c1.add(f);
            }
            c0.intoArray(sums, 2 * b * SUMS_BLOCK);
            c1.intoArray(sums, (2 * b + 1) * SUMS_BLOCK);
        }
    }

    /**
     * Rows 8 * half .. 8 * half + 7: per block the two group sums times their sc - 32, added as integers (at
     * most 2 * 2^15 * 32, exact in float), times the activations' scale, and per super-block times d. The group
     * sums are the low (half 0) or high (1) shorts of the ints at {@code slot}.
     */
    // As TileKernels.finishAffineHalf, kept above C2's FreqInlineSize (325 bytes of bytecode) by the check: inlined
    // twice into finish and from there into TileKernels.matmulOne, it put that past its node budget (the float
    // conversions then ran as Java code: Q3_K products 0.75x).
    @Override
    void finishHalf(long scales, int step, long heads, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        if (scales < 0 || heads < 0 || step <= 0 || (half & ~1) != 0) throw new IllegalArgumentException("Q3_K tile: scales at " + scales + ", step " + step + ", heads at " + heads + ", half " + half);
        float[] dx = a.d;
        long o = scales + half * TR, head = heads + half * TR;
        int up = 16 - 16 * half;
        FloatVector acc = FloatVector.zero(FS);
        for (int s = 0; s < nb / 8; s++) {
            FloatVector inner = FloatVector.zero(FS);
            for (int b = 8 * s; b < 8 * s + 8; b++, o += step) {
                IntVector s0 = TileKernels.halfSums(sums, 2 * b * SUMS_BLOCK + slot, up), s1 = TileKernels.halfSums(sums, (2 * b + 1) * SUMS_BLOCK + slot, up);
                // per row a short: the first group's sc - 32 in the low byte, the second's in the high one
                IntVector sc = (IntVector) ShortVector.fromMemorySegment(HALF, data, o, LE).convertShape(VectorOperators.S2I, IS, 0);
                IntVector dot = s0.mul(sc.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24))
                        .add(s1.mul(sc.lanewise(VectorOperators.ASHR, 8)));
                inner = TileKernels.toFloat(dot).fma(FloatVector.broadcast(FS, dx[b]), inner);
            }
            acc = inner.fma(TileKernels.widen(data, head + (long) s * Q3KTiles.HEAD), acc);
        }
        acc.intoArray(y, yo);
    }
}
