package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * What the 16-bit tile kernels share ({@link Q4_0Matrix} for Q4_0 and Q4_K, {@link Q5KMatrix} for Q5_K): one
 * weight row per short lane, integer activations broadcast from {@link Q8Lanes}, block sums handed from the
 * integer pass to the float one through a per-thread buffer, and the float pass of the K-quants' affine blocks.
 * Helpers that take or return vectors stay under 35 bytes of bytecode, which C2 always inlines.
 */
final class TileKernels {
    static final VectorSpecies<Short> SS = Q8Lanes.SS;
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    static final VectorSpecies<Integer> IS = IntVector.SPECIES_256;
    static final VectorSpecies<Short> HALF = ShortVector.SPECIES_128;
    /** A stored pair of tiles' vectors at once ({@link TilePairs}): where the machine has 512-bit vectors. */
    static final VectorSpecies<Short> WS = ShortVector.SPECIES_512;
    static final VectorSpecies<Integer> WI = IntVector.SPECIES_512;
    static final boolean WIDE = ShortVector.SPECIES_PREFERRED.length() >= 2 * Q8Lanes.LANES;
    static final VectorSpecies<Float> WF = FloatVector.SPECIES_512;
    /**
     * For half h of a stored pair: from 32 shorts holding tile t's 16 rows then tile t + 1's, lanes 0..7 take tile
     * t's rows 8h..8h+7 and lanes 8..15 tile t + 1's ({@code PAIR_ROWS_h}); from 32 shorts holding one tile's 16 d
     * then its 16 dmin, lanes 0..15 take rows 8h..8h+7 twice ({@code HEAD_D_h}) or their dmin ({@code HEAD_M_h}).
     */
    static final VectorShuffle<Short> PAIR_ROWS_0 = VectorShuffle.fromOp(WS, i -> i < 8 ? i : i < 16 ? i + 8 : 0),
            PAIR_ROWS_1 = VectorShuffle.fromOp(WS, i -> i < 8 ? i + 8 : i < 16 ? i + 16 : 0),
            HEAD_D_0 = VectorShuffle.fromOp(WS, i -> i & 7), HEAD_D_1 = VectorShuffle.fromOp(WS, i -> 8 + (i & 7)),
            HEAD_M_0 = VectorShuffle.fromOp(WS, i -> 16 + (i & 7)), HEAD_M_1 = VectorShuffle.fromOp(WS, i -> 24 + (i & 7));
    /** Lanes 8..15 of 32 shorts: the second tile of a pair. */
    private static final VectorMask<Short> SECOND_TILE = VectorMask.fromLong(WS, 0xFF00L);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows per tile: one per short lane. */
    static final int TR = Q8Lanes.LANES;
    /** Shorts per block in the sums buffer: two tiles of {@link #TR}. */
    static final int SUMS_BLOCK = 2 * TR;
    /** Per super-block of a K-quant tile: 16 d and 16 dmin, float16. */
    static final int HEAD = 4 * TR;

    /**
     * Per thread, the block sums of two tiles per token ({@link #SUMS_BLOCK} shorts per block), in an array: a
     * store into a memory segment costs C2 more of the node budget the kernels live within.
     */
    private static final ThreadLocal<short[]> SUMS = ThreadLocal.withInitial(() -> new short[0]);

    private TileKernels() {
    }

    /** A matrix in tiles of {@link #TR} rows, as {@link #matmulOne} drives it. */
    interface Tiled {
        /** Whole tiles: rows below this are in tiles, the rest past them. */
        int tiledRows();

        /** The 16-bit block sums of tiles t..t+n-1 (n = 1 or 2) against a into sums, per block SUMS_BLOCK shorts. */
        void integerSums(int t, int n, Q8Lanes a, short[] sums);

        /** Tiles t..t+n-1's results from their block sums (at base) into y from yo. */
        void finish(int t, int n, Q8Lanes a, short[] sums, int base, float[] y, int yo);

        /** Row m past the last whole tile against a. */
        float plainDot(int m, Q8Lanes a);

        /** Whether a pass of two tiles may start at tile t (Q4_0 stores its tiles in pairs: a pass starts a pair). */
        default boolean pairStarts(int t) {
            return true;
        }
    }

    /**
     * One token's rows [r0, r1): two whole tiles per pass where the range allows, one otherwise; a range that
     * starts or ends inside a tile takes the whole tile and keeps the rows asked for; rows past the tiles one by one.
     */
    static void matmulOne(Tiled m, int nb, Q8Lanes a, float[] y, int yOff, int r0, int r1) {
        short[] sums = sums(nb * SUMS_BLOCK);
        int tileEnd = m.tiledRows(), r = r0;
        float[] tmp = null;
        while (r < r1 && r < tileEnd) {
            int t = r / TR;
            int n = r % TR == 0 && r + 2 * TR <= Math.min(r1, tileEnd) && m.pairStarts(t) ? 2 : 1;
            m.integerSums(t, n, a, sums);
            if (r % TR == 0 && r + n * TR <= r1) {
                m.finish(t, n, a, sums, 0, y, yOff + r);
                r += n * TR;
            } else {
                if (tmp == null) tmp = new float[TR];
                m.finish(t, 1, a, sums, 0, tmp, 0);
                int end = Math.min(r1, (t + 1) * TR);
                System.arraycopy(tmp, r - t * TR, y, yOff + r, end - r);
                r = end;
            }
        }
        for (; r < r1; r++) y[yOff + r] = m.plainDot(r - tileEnd, a);
    }

    static short[] sums(int shorts) {
        short[] sums = SUMS.get();
        if (sums.length < shorts) SUMS.set(sums = new short[shorts]);
        return sums;
    }

    /** The 16 shorts at {@code at}: a vector of a tile's codes, one row a lane. */
    static ShortVector load(MemorySegment data, long at) {
        return ShortVector.fromMemorySegment(SS, data, at, LE);
    }

    /** An activation pair (see {@link Q8Lanes#pairs}) in every short lane. */
    static ShortVector lanes(int pair) {
        return IntVector.broadcast(IS, pair).reinterpretAsShorts();
    }

    /** An activation pair in all 32 short lanes of a 512-bit vector. */
    static ShortVector wideLanes(int pair) {
        return IntVector.broadcast(WI, pair).reinterpretAsShorts();
    }

    /** The 32 shorts at {@code at}: a stored pair's vector of codes, tile 2m's rows in lanes 0..15. */
    static ShortVector wideLoad(MemorySegment data, long at) {
        return ShortVector.fromMemorySegment(WS, data, at, LE);
    }

    /** As {@link #halfSums} for both tiles of a stored pair: lanes 0..7 tile t's rows, 8..15 tile t + 1's. */
    static IntVector pairHalfSums(short[] sums, int at, int up) {
        IntVector s = (IntVector) ShortVector.fromArray(WS, sums, at).reinterpretAsInts();
        return s.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 16);
    }

    /**
     * The 8 block or group sums of one half of a tile, as ints: the low (up = 16) or high (up = 0) shorts of the
     * ints at {@code at} (a tile's rows 0..7 or 8..15, see {@link Q4_0Matrix#laneOf}).
     */
    static IntVector halfSums(short[] sums, int at, int up) {
        IntVector s = (IntVector) ShortVector.fromArray(SS, sums, at).reinterpretAsInts();
        return s.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 16);
    }

    /** The first 16 of 32 float16 halves as floats, as {@link #widen} does for 8. */
    private static FloatVector widen16(ShortVector h) {
        IntVector v = (IntVector) h.convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0);
        return v.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** 16 ints as 16 floats (the 512-bit {@link #toFloat}). */
    static FloatVector wideFloat(IntVector v) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, WF, 0);
    }

    /**
     * As {@link #finishAffineHalf} for half {@code half} of both tiles of a stored pair at once, in 16 float lanes
     * (lanes 0..7 tile t's rows, 8..15 tile t + 1's; the same operations in the same order per row, so the same
     * bits): half the instructions of two 8-lane passes. {@code sc} is the pair's first block's scales (tile t's
     * 16 rows, then tile t + 1's), {@code headsT} and {@code headsU} the two tiles' super-block heads; the sums of
     * tile t at {@code slot}, of tile t + 1 at {@code slot + TR}; results to y from yo (tile t) and yo + TR.
     */
    // Above FreqInlineSize like finishAffineHalf (its callers are near their node budget), which the check keeps.
    static void finishAffinePair(MemorySegment data, long sc, int block, long headsT, long headsU, int nb, int half,
                                 Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        if (sc < 0 || headsT < 0 || headsU < 0 || (half & ~1) != 0) {
            throw new IllegalArgumentException("tile pair at " + sc + ", heads at " + headsT + " and " + headsU + ", half " + half);
        }
        float[] dx = a.d;
        int[] corrs = a.corrs;
        VectorShuffle<Short> rows = half == 0 ? PAIR_ROWS_0 : PAIR_ROWS_1;
        VectorShuffle<Short> dPick = half == 0 ? HEAD_D_0 : HEAD_D_1, mPick = half == 0 ? HEAD_M_0 : HEAD_M_1;
        int up = 16 - 16 * half;
        float perCorr = -1f / a.offset;
        long o = sc;
        FloatVector acc = FloatVector.zero(WF), dv = acc, mv = acc;
        for (int b = 0; b < nb; b++, o += block) {
            if ((b & 7) == 0) {
                long s = (long) (b >> 3) * HEAD;
                ShortVector ht = ShortVector.fromMemorySegment(WS, data, headsT + s, LE), hu = ShortVector.fromMemorySegment(WS, data, headsU + s, LE);
                dv = widen16(ht.rearrange(dPick).blend(hu.rearrange(dPick), SECOND_TILE));
                mv = widen16(ht.rearrange(mPick).blend(hu.rearrange(mPick), SECOND_TILE));
            }
            IntVector s = (IntVector) ShortVector.fromArray(WS, sums, b * SUMS_BLOCK + slot).sub(wideLanes(corrs[b])).reinterpretAsInts();
            FloatVector sum = wideFloat(s.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 16));
            IntVector scm = (IntVector) ShortVector.fromMemorySegment(WS, data, o, LE).rearrange(rows)
                    .convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0);
            float d = dx[b], c = (short) corrs[b];
            acc = sum.add(c).mul(d).fma(wideFloat(scm.and(63)).mul(dv), acc);
            acc = wideFloat(scm.lanewise(VectorOperators.LSHR, 8)).mul(mv).fma(FloatVector.broadcast(WF, perCorr * c * d), acc);
        }
        storeHalves(acc, y, yo + 8 * half, yo + TR + 8 * half);
    }

    /**
     * Lanes 0..7 of v to y from {@code first}, lanes 8..15 from {@code second}. Not as two masked stores: where
     * two of them started at the same index (one tile's rows 8..15 after the other's 0..7) C2 dropped the first
     * (JDK 25; zeros in the results once compiled, which MatmulKernelTest caught).
     */
    static void storeHalves(FloatVector v, float[] y, int first, int second) {
        ((FloatVector) v.reinterpretShape(FS, 0)).intoArray(y, first);
        ((FloatVector) v.reinterpretShape(FS, 1)).intoArray(y, second);
    }

    static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, FS, 0);
    }

    /**
     * The 8 float16 scales at {@code at} as floats, exactly for every finite value: the sign-extended halves
     * shifted into float32's exponent and mantissa (sign kept, the extension cleared), then times 2^112, which
     * moves float16's exponent bias (15) to float32's (127); subnormals and zero come out right too.
     */
    static FloatVector widen(MemorySegment data, long at) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(HALF, data, at, LE).convertShape(VectorOperators.S2I, IS, 0);
        return h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** The 16 float16 scales at {@code at} as floats, as {@link #widen} does for 8. */
    static FloatVector widenWide(MemorySegment data, long at) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(SS, data, at, LE).convertShape(VectorOperators.S2I, WI, 0);
        return h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f);
    }

    /**
     * Rows 8 * half .. 8 * half + 7 of a K-quant tile at {@code tile} (nb blocks of {@code block} bytes, each
     * ending in the 16 rows' sc and m as little-endian shorts, sc the low byte; after the blocks, per
     * super-block, {@link #HEAD} bytes of d then dmin): per block, (sum(code * q) in float: the 16-bit sum less
     * the offset times sum(q), which is exact, plus that correction back) * dx * d * sc - sum(q) * dx * dmin * m,
     * with d and dmin loaded once per super-block. The block sums are the low (half 0) or high (1) shorts of
     * the ints at {@code slot}.
     */
    // Its bytecode must stay above C2's FreqInlineSize (325 bytes): at 325 C2 inlined it into its hot callers, and
    // there it put them past their node budget (vectors on the heap: Q4_K and Q5_K products 2x slower). The check
    // below is what keeps it out of line.
    static void finishAffineHalf(MemorySegment data, long sc, int block, long heads, int nb, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        if (sc < 0 || heads < 0 || (half & ~1) != 0) throw new IllegalArgumentException("tile at " + sc + ", heads at " + heads + ", half " + half);
        float[] dx = a.d;
        int[] corrs = a.corrs;
        long o = sc + half * TR, head = heads + half * TR;
        int up = 16 - 16 * half;
        float perCorr = -1f / a.offset;
        FloatVector acc = FloatVector.zero(FS), dv = acc, mv = acc;
        for (int b = 0; b < nb; b++, o += block) {
            if ((b & 7) == 0) {
                long h = head + (long) (b >> 3) * HEAD;
                dv = widen(data, h);
                mv = widen(data, h + 2 * TR);
            }
            IntVector s = (IntVector) ShortVector.fromArray(SS, sums, b * SUMS_BLOCK + slot).sub(lanes(corrs[b])).reinterpretAsInts();
            FloatVector sum = toFloat(s.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 16));
            // per row a short: sc in the low byte, m in the high one
            IntVector scm = (IntVector) ShortVector.fromMemorySegment(HALF, data, o, LE).convertShape(VectorOperators.S2I, IS, 0);
            float d = dx[b], c = (short) corrs[b];
            acc = sum.add(c).mul(d).fma(toFloat(scm.and(63)).mul(dv), acc);
            acc = toFloat(scm.lanewise(VectorOperators.LSHR, 8)).mul(mv).fma(FloatVector.broadcast(FS, perCorr * c * d), acc);
        }
        acc.intoArray(y, yo);
    }
}
