package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

import static moge.tensor.TileKernels.FS;
import static moge.tensor.TileKernels.HALF;
import static moge.tensor.TileKernels.IS;
import static moge.tensor.TileKernels.LE;
import static moge.tensor.TileKernels.SS;
import static moge.tensor.TileKernels.SUMS_BLOCK;
import static moge.tensor.TileKernels.TR;
import static moge.tensor.TileKernels.WF;
import static moge.tensor.TileKernels.WS;
import static moge.tensor.TileKernels.lanes;
import static moge.tensor.TileKernels.wideLanes;

/**
 * Q6_K in {@link Q6KTiles}' tiles: one token multiplies signed 6-bit codes with integer activations in 16-bit lanes,
 * 16 rows per vector, as the other K-quant tiles do. The integer pass keeps four sums per block of 32 (columns 0..7,
 * 8..15, 16..23, 24..31: sums slot 4b + k), which the float pass adds in 32 bits per 16-value group before its
 * scale; a sum of 8 fits 16 bits on the activations' grid ({@link Activations#q6Lanes}: per block d = the largest
 * sum|x| over its runs of 8 / 1019), and on llama.cpp's int8 grid as well (8 * 32 * 127), so
 * {@code --activations q8} runs these kernels too. A grid on 16-value sums would have to be twice as coarse, and
 * a grid on the block's sum|x| as the other formats' four times. More tokens run the panel GEMM over rows decoded
 * to float.
 * <p>
 * Before these tiles Q6_K ran as float runs (int8 codes and two float scales per 32 values, 10 bits a weight)
 * against float activations: a row read its activations as 4 bytes a column, and rows of 6144 columns (the down
 * projection) read those 24 KiB from the second-level cache for every row, since the weights streaming through
 * evicted them from the first: eight 1536x6144 products took 5.6 ms against 2.8 for the same weights as 6144x1536
 * (BENCHMARKS.md). Here 32 rows share each broadcast activation.
 */
final class Q6KTileMatrix extends KQuantTileMatrix {
    private static final int BLOCK = Q6KTiles.BLOCK;

    /**
     * Up to this many tokens, one single-token pass each ({@link KQuantTileMatrix}). At 512 bits 24: eight 2048x2048
     * products at 16 tokens 12.8 ms against 21.4 in the GEMM (which costs the same from 17 to 32 tokens), at 24
     * about 19; 1536x6144 at 16 tokens 25.1 against 43.6. With AVX2 12: 15.4 ms at 12 tokens, 16.0 in the GEMM at 13
     * ({@code MultiTokenBench Q6_K}, 2 threads).
     */
    static final int FEW_TOKENS = Gemm.WIDE ? 24 : 12;

    Q6KTileMatrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, DType.Q6_K, rows, cols, packed, roundActivations, Q6KTiles.VECTORS, Q6KTiles.HEAD, 4, FEW_TOKENS);
    }

    /** llama.cpp's int8 grid while {@code --activations q8} is on (set after loading, so asked at each product). */
    @Override
    Q8Lanes integerForm(Activations x) {
        return x.q6Lanes(roundActivations);
    }

    /** Sums of 8 columns fit on llama.cpp's int8 grid too. */
    @Override
    boolean integerOnLlamaGrid() {
        return true;
    }

    @Override
    public float plainDot(int m, Q8Lanes a) {
        return Q6KTiles.plainDot(data, plainRow(m), nb / 8, a);
    }

    @Override
    void decodeTileRow(int t, int row, int b0, int b1, float[] dst, int out, int[] packed) {
        Q6KTiles.decodeRow(data, layout.blockAt(t, b0), layout.stride(t), layout.step(t), layout.headsAt(t), row, b0, b1, dst, out, packed);
    }

    // The low and high byte of each short lane, signed. Under 35 bytes of bytecode, which C2 always inlines.
    private static ShortVector low(ShortVector w) {
        return w.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
    }

    private static ShortVector high(ShortVector w) {
        return w.lanewise(VectorOperators.ASHR, 8);
    }

    /**
     * The sums of (q - 32) * x over columns 0..7, 8..15, 16..23 and 24..31 of each block (slots 4b..4b + 3): vectors
     * 0..7 hold the first and third runs of 8, vectors 8..15 the second and fourth, so two loops of the same body.
     */
    @Override
    void tileSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int so = layout.stride(t), step = layout.step(t);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += step) {
            ShortVector c0 = ShortVector.zero(SS), c1 = c0, c2 = c0, c3 = c0;
            int x = b * 32;
            long oi = o; // pointer steps, as in Q4_0Matrix
            for (int v = 0; v < 8; v++, oi += so) {
                ShortVector w = TileKernels.load(data, oi);
                c0 = c0.add(low(w).mul(lanes(q[x + v])));
                c2 = c2.add(high(w).mul(lanes(q[x + 16 + v])));
            }
            for (int v = 8; v < 16; v++, oi += so) {
                ShortVector w = TileKernels.load(data, oi);
                c1 = c1.add(low(w).mul(lanes(q[x + v])));
                c3 = c3.add(high(w).mul(lanes(q[x + 16 + v])));
            }
            c0.intoArray(sums, 4 * b * SUMS_BLOCK);
            c1.intoArray(sums, (4 * b + 1) * SUMS_BLOCK);
            c2.intoArray(sums, (4 * b + 2) * SUMS_BLOCK);
            c3.intoArray(sums, (4 * b + 3) * SUMS_BLOCK);
        }
    }

    @Override
    void pairSums256(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c0 = ShortVector.zero(SS), c1 = c0, c2 = c0, c3 = c0, e0 = c0, e1 = c0, e2 = c0, e3 = c0;
            int x = b * 32;
            for (int v = 0; v < 8; v++) {
                ShortVector w = TileKernels.load(data, o + 4L * TR * v), u = TileKernels.load(data, o + 2L * TR + 4L * TR * v);
                ShortVector xa = lanes(q[x + v]), xc = lanes(q[x + 16 + v]);
                c0 = c0.add(low(w).mul(xa));
                e0 = e0.add(low(u).mul(xa));
                c2 = c2.add(high(w).mul(xc));
                e2 = e2.add(high(u).mul(xc));
            }
            for (int v = 8; v < 16; v++) {
                ShortVector w = TileKernels.load(data, o + 4L * TR * v), u = TileKernels.load(data, o + 2L * TR + 4L * TR * v);
                ShortVector xb = lanes(q[x + v]), xd = lanes(q[x + 16 + v]);
                c1 = c1.add(low(w).mul(xb));
                e1 = e1.add(low(u).mul(xb));
                c3 = c3.add(high(w).mul(xd));
                e3 = e3.add(high(u).mul(xd));
            }
            int at = 4 * b * SUMS_BLOCK;
            c0.intoArray(sums, at);
            e0.intoArray(sums, at + TR);
            c1.intoArray(sums, at + SUMS_BLOCK);
            e1.intoArray(sums, at + SUMS_BLOCK + TR);
            c2.intoArray(sums, at + 2 * SUMS_BLOCK);
            e2.intoArray(sums, at + 2 * SUMS_BLOCK + TR);
            c3.intoArray(sums, at + 3 * SUMS_BLOCK);
            e3.intoArray(sums, at + 3 * SUMS_BLOCK + TR);
        }
    }

    @Override
    void pairSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c0 = ShortVector.zero(WS), c1 = c0, c2 = c0, c3 = c0;
            int x = b * 32;
            for (int v = 0; v < 8; v++) {
                ShortVector w = TileKernels.wideLoad(data, o + 4L * TR * v);
                c0 = c0.add(low(w).mul(wideLanes(q[x + v])));
                c2 = c2.add(high(w).mul(wideLanes(q[x + 16 + v])));
            }
            for (int v = 8; v < 16; v++) {
                ShortVector w = TileKernels.wideLoad(data, o + 4L * TR * v);
                c1 = c1.add(low(w).mul(wideLanes(q[x + v])));
                c3 = c3.add(high(w).mul(wideLanes(q[x + 16 + v])));
            }
            int at = 4 * b * SUMS_BLOCK;
            c0.intoArray(sums, at);
            c1.intoArray(sums, at + SUMS_BLOCK);
            c2.intoArray(sums, at + 2 * SUMS_BLOCK);
            c3.intoArray(sums, at + 3 * SUMS_BLOCK);
        }
    }

    /**
     * Rows 8 * half .. 8 * half + 7: per block the two 16-value groups' sums (each two sums of 8 added as ints)
     * times their sc, added as integers (at most 2 * 65024 * 128, exact in float), times the activations' scale,
     * and per super-block times d. The sums are the low (half 0) or high (1) shorts of the ints at {@code slot}.
     */
    // Above C2's FreqInlineSize by the check, as Q3KMatrix.finishHalf (inlined into its callers it put them past
    // their node budget).
    @Override
    void finishHalf(long scales, int step, long heads, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        if (scales < 0 || heads < 0 || step <= 0 || (half & ~1) != 0) throw new IllegalArgumentException("Q6_K tile: scales at " + scales + ", step " + step + ", heads at " + heads + ", half " + half);
        float[] dx = a.d;
        long o = scales + half * TR, head = heads + half * TR;
        int up = 16 - 16 * half;
        FloatVector acc = FloatVector.zero(FS);
        for (int s = 0; s < nb / 8; s++) {
            FloatVector inner = FloatVector.zero(FS);
            for (int b = 8 * s; b < 8 * s + 8; b++, o += step) {
                int at = 4 * b * SUMS_BLOCK + slot;
                IntVector s0 = TileKernels.halfSums(sums, at, up).add(TileKernels.halfSums(sums, at + SUMS_BLOCK, up));
                IntVector s1 = TileKernels.halfSums(sums, at + 2 * SUMS_BLOCK, up).add(TileKernels.halfSums(sums, at + 3 * SUMS_BLOCK, up));
                // per row a short: the first group's sc in the low byte, the second's in the high one
                IntVector sc = (IntVector) ShortVector.fromMemorySegment(HALF, data, o, LE).convertShape(VectorOperators.S2I, IS, 0);
                IntVector dot = s0.mul(sc.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24))
                        .add(s1.mul(sc.lanewise(VectorOperators.ASHR, 8)));
                inner = TileKernels.toFloat(dot).fma(FloatVector.broadcast(FS, dx[b]), inner);
            }
            acc = inner.fma(TileKernels.widen(data, head + (long) s * Q6KTiles.HEAD), acc);
        }
        acc.intoArray(y, yo);
    }

    /** Per thread, a super-block's d of the two tiles' half rows (8 each), read into 16 lanes. */
    private static final ThreadLocal<float[]> PAIR_D = ThreadLocal.withInitial(() -> new float[TR]);

    @Override
    boolean finishPair(long scales, int step, long headsT, long headsU, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        finishPairHalf(scales, step, headsT, headsU, 0, a, sums, slot, y, yo);
        finishPairHalf(scales, step, headsT, headsU, 1, a, sums, slot, y, yo);
        return true;
    }

    /**
     * {@link #finishHalf} for half {@code half} of both tiles of a stored pair at once in 16 float lanes (lanes 0..7
     * tile t's rows, 8..15 tile t + 1's; each lane takes finishHalf's operations in its order, so the same bits):
     * half the instructions of four 8-lane passes, which were a quarter of a Q6_K decode. {@code scales}: the pair's
     * first block's scales (tile t's 16 rows, then tile t + 1's); the heads of the two tiles apart.
     */
    // Out of line by its size, as finishHalf (the check keeps it above FreqInlineSize).
    private void finishPairHalf(long scales, int step, long headsT, long headsU, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        if (scales < 0 || headsT < 0 || headsU < 0 || step <= 0 || (half & ~1) != 0) {
            throw new IllegalArgumentException("Q6_K tile pair: scales at " + scales + ", step " + step + ", heads at " + headsT + " and " + headsU + ", half " + half);
        }
        float[] dx = a.d, ds = PAIR_D.get();
        VectorShuffle<Short> rows = half == 0 ? TileKernels.PAIR_ROWS_0 : TileKernels.PAIR_ROWS_1;
        long o = scales;
        int up = 16 - 16 * half;
        FloatVector acc = FloatVector.zero(WF);
        for (int s = 0; s < nb / 8; s++) {
            long h = (long) s * Q6KTiles.HEAD + half * TR;
            TileKernels.widen(data, headsT + h).intoArray(ds, 0);
            TileKernels.widen(data, headsU + h).intoArray(ds, TR / 2);
            FloatVector inner = FloatVector.zero(WF);
            for (int b = 8 * s; b < 8 * s + 8; b++, o += step) {
                int at = 4 * b * SUMS_BLOCK + slot;
                IntVector s0 = TileKernels.pairHalfSums(sums, at, up).add(TileKernels.pairHalfSums(sums, at + SUMS_BLOCK, up));
                IntVector s1 = TileKernels.pairHalfSums(sums, at + 2 * SUMS_BLOCK, up).add(TileKernels.pairHalfSums(sums, at + 3 * SUMS_BLOCK, up));
                IntVector sc = (IntVector) ShortVector.fromMemorySegment(WS, data, o, LE).rearrange(rows)
                        .convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0);
                IntVector dot = s0.mul(sc.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24))
                        .add(s1.mul(sc.lanewise(VectorOperators.ASHR, 8)));
                inner = TileKernels.wideFloat(dot).fma(FloatVector.broadcast(WF, dx[b]), inner);
            }
            acc = inner.fma(FloatVector.fromArray(WF, ds, 0), acc);
        }
        TileKernels.storeHalves(acc, y, yo + 8 * half, yo + TR + 8 * half);
    }
}
