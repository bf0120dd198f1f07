package moge.tensor;

import static moge.tensor.Q4_0Matrix.TILE_BLOCK;
import static moge.tensor.Q4_0Matrix.TR;
import static moge.tensor.TileKernels.LE;
import static moge.tensor.TileKernels.SUMS_BLOCK;
import static moge.tensor.TileKernels.WS;
import static moge.tensor.TileKernels.wideLanes;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * {@link Q4_0Matrix}'s kernels over a stored pair of tiles ({@link TilePairs}) in 512-bit vectors: one load brings
 * both tiles' vector i of codes, lanes 0..15 tile t's rows and 16..31 tile t + 1's. The integer passes of one, two
 * and four tokens (Q4_0 and Q4_K), the Q4_0 float pass, and the one-token product that runs both passes per block.
 */
final class Q4_0Pairs {
    private Q4_0Pairs() {
    }

    // Nibble k of each short lane as its code (0..15). Helpers that take or return vectors stay under 35 bytes
    // of bytecode, which C2 always inlines.
    static ShortVector nibble(ShortVector w, int k) {
        return switch (k) {
            case 0 -> w.and((short) 15);
            case 3 -> w.lanewise(VectorOperators.LSHR, 12);
            default -> w.lanewise(VectorOperators.LSHR, 4 * k).and((short) 15);
        };
    }

    /**
     * One token against a stored pair of tiles (its first block at {@code o}), both passes per block: the block's
     * 16-bit sums go from the integer products straight into the float ones, as {@link #pairSums} then
     * {@link #finishPair} would hand them over (the same operations per row in the same order, so the same bits).
     * The few-token kernels and the 256-bit path still hand their sums over through the buffer.
     */
    // Kept out of line as finishPair is (its argument check holds its bytecode above C2's FreqInlineSize).
    static void pairProduct(MemorySegment data, long o, int nb, Q8Lanes a, float[] y, int yo) {
        if (o < 0 || yo < 0 || y.length < yo + 2 * TR || a.d.length < nb || a.corrs.length < nb || a.pairs.length < 32 * nb) {
            throw new IllegalArgumentException("tile pair at " + o + ", results at " + yo + " of " + y.length + ", "
                    + a.d.length + " activation blocks for " + nb);
        }
        int[] q = a.pairs, corrs = a.corrs;
        float[] dx = a.d;
        FloatVector lo = FloatVector.zero(TileKernels.WF), hi = lo;
        for (int b = 0; b < nb; b++, o += 2 * TILE_BLOCK) {
            // pairSums' block loop, written out again: both passes must sit in this one compiled loop, and C2 did
            // not inline a helper returning the block's sums (vectors on the heap)
            ShortVector c = ShortVector.zero(WS);
            int xo = b * 32;
            for (int i = 0; i < 8; i++) {
                ShortVector w = ShortVector.fromMemorySegment(WS, data, o + 4L * TR * i, LE);
                for (int k = 0; k < 4; k++) c = c.add(nibble(w, k).mul(wideLanes(q[xo + i + 8 * k])));
            }
            IntVector s = (IntVector) c.sub(wideLanes(corrs[b])).reinterpretAsInts();
            float d = dx[b];
            lo = TileKernels.wideFloat(s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(d)
                    .fma(TileKernels.widenWide(data, o + 32L * TR), lo);
            hi = TileKernels.wideFloat(s.lanewise(VectorOperators.ASHR, 16)).mul(d).fma(TileKernels.widenWide(data, o + 34L * TR), hi);
        }
        TileKernels.storeHalves(lo, y, yo, yo + TR);
        TileKernels.storeHalves(hi, y, yo + TR / 2, yo + TR + TR / 2);
    }

    /**
     * As {@link Q4_0Matrix#integerSums} over a stored pair of tiles t, t + 1 (its first block at {@code o}) in 512-bit vectors: each load brings both
     * tiles' vector i, lanes 0..15 tile t's rows and 16..31 tile t + 1's, which is how the sums buffer holds two
     * tiles, so one store per block fills both.
     */
    static void pairSums(MemorySegment data, long o, int nb, Q8Lanes a, short[] sums) {
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * TILE_BLOCK) {
            ShortVector c = ShortVector.zero(WS);
            int xo = b * 32;
            for (int i = 0; i < 8; i++) {
                ShortVector w = ShortVector.fromMemorySegment(WS, data, o + 4L * TR * i, LE);
                for (int k = 0; k < 4; k++) c = c.add(nibble(w, k).mul(wideLanes(q[xo + i + 8 * k])));
            }
            c.intoArray(sums, b * SUMS_BLOCK);
        }
    }

    /** As Q4_0Matrix's integerSums2x4 over a stored pair, in 512-bit vectors as {@link #pairSums}. */
    static void pairSums4(MemorySegment data, long o, int nb, Q8Lanes qa, Q8Lanes qb, Q8Lanes qc, Q8Lanes qd, short[] sums, int region) {
        int[] xa = qa.pairs, xb = qb.pairs, xc = qc.pairs, xd = qd.pairs;
        for (int blk = 0; blk < nb; blk++, o += 2 * TILE_BLOCK) {
            ShortVector a = ShortVector.zero(WS), b = a, c = a, d = a;
            int xo = blk * 32;
            for (int i = 0; i < 8; i++) {
                ShortVector w = ShortVector.fromMemorySegment(WS, data, o + 4L * TR * i, LE);
                for (int sh = 0; sh < 16; sh += 4) { // one body for the four nibbles, as in integerSums2x4
                    ShortVector n = w.lanewise(VectorOperators.LSHR, sh).and((short) 15);
                    int xi = xo + i + 2 * sh;
                    a = a.add(n.mul(wideLanes(xa[xi])));
                    b = b.add(n.mul(wideLanes(xb[xi])));
                    c = c.add(n.mul(wideLanes(xc[xi])));
                    d = d.add(n.mul(wideLanes(xd[xi])));
                }
            }
            int at = blk * SUMS_BLOCK;
            a.intoArray(sums, at);
            b.intoArray(sums, region + at);
            c.intoArray(sums, 2 * region + at);
            d.intoArray(sums, 3 * region + at);
        }
    }

    /** As Q4_0Matrix's integerSums2x2 over a stored pair, in 512-bit vectors. */
    static void pairSums2(MemorySegment data, long o, int nb, Q8Lanes qa, Q8Lanes qb, short[] sums, int region) {
        int[] xa = qa.pairs, xb = qb.pairs;
        for (int blk = 0; blk < nb; blk++, o += 2 * TILE_BLOCK) {
            ShortVector a = ShortVector.zero(WS), b = a;
            int xo = blk * 32;
            for (int i = 0; i < 8; i++) {
                ShortVector w = ShortVector.fromMemorySegment(WS, data, o + 4L * TR * i, LE);
                for (int k = 0; k < 4; k++) {
                    ShortVector n = nibble(w, k);
                    int xi = xo + i + 8 * k;
                    a = a.add(n.mul(wideLanes(xa[xi])));
                    b = b.add(n.mul(wideLanes(xb[xi])));
                }
            }
            int at = blk * SUMS_BLOCK;
            a.intoArray(sums, at);
            b.intoArray(sums, region + at);
        }
    }

    /**
     * As {@link Q4_0Matrix#finish} over a stored pair (scales of its first block at {@code sc}, blocks {@code step} bytes
     * apart) in 16 float lanes: lanes 0..7 tile t's rows, 8..15 tile t + 1's, one half of the rows per vector;
     * per row the same operations in the same order as the 8-lane pass, so the same bits, in half the
     * instructions (with the float pass skipped, a probe, Q4_0's one-token product ran 15% faster in cache and
     * 25-35% from memory: BENCHMARKS.md section 2).
     */
    // Kept out of line like TileKernels.finishAffinePair: its argument check holds its bytecode above C2's
    // FreqInlineSize (325 bytes), so its vectors do not join those of finish's callers under their node budget.
    static void finishPair(MemorySegment data, long sc, int step, int nb, Q8Lanes a, short[] sums, int base, float[] y, int yo) {
        if (sc < 0 || step <= 0 || nb <= 0 || base < 0 || yo < 0 || a.d.length < nb || a.corrs.length < nb
                || sums.length < base + nb * SUMS_BLOCK || y.length < yo + 2 * TR
                || data.byteSize() < sc + (long) (nb - 1) * step + 4 * TR) {
            throw new IllegalArgumentException("tile pair scales at " + sc + ", step " + step + ", " + nb + " blocks, sums at " + base
                    + " of " + sums.length + ", results at " + yo + " of " + y.length + ", " + a.d.length + " activation blocks");
        }
        float[] dx = a.d;
        int[] corrs = a.corrs;
        long o = sc;
        FloatVector lo = FloatVector.zero(TileKernels.WF), hi = lo;
        for (int b = 0; b < nb; b++, o += step) {
            IntVector s = (IntVector) ShortVector.fromArray(WS, sums, b * SUMS_BLOCK + base).sub(wideLanes(corrs[b])).reinterpretAsInts();
            float d = dx[b];
            lo = TileKernels.wideFloat(s.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).mul(d)
                    .fma(TileKernels.widenWide(data, o), lo);
            hi = TileKernels.wideFloat(s.lanewise(VectorOperators.ASHR, 16)).mul(d).fma(TileKernels.widenWide(data, o + 2 * TR), hi);
        }
        TileKernels.storeHalves(lo, y, yo, yo + TR);
        TileKernels.storeHalves(hi, y, yo + TR / 2, yo + TR + TR / 2);
    }
}
