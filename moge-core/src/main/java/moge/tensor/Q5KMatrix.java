package moge.tensor;

import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

import static moge.tensor.TileKernels.LE;
import static moge.tensor.TileKernels.SS;
import static moge.tensor.TileKernels.SUMS_BLOCK;
import static moge.tensor.TileKernels.WS;
import static moge.tensor.TileKernels.wideLanes;
import static moge.tensor.TileKernels.TR;
import static moge.tensor.TileKernels.lanes;

/**
 * Q5_K in {@link Q5KTiles}' tiles: one token multiplies 5-bit codes with integer activations in 16-bit lanes as
 * Q4_K does in {@link Q4_0Matrix}, 16 rows per vector, on a grid with half Q4_K's budget
 * ({@link Activations#q5Lanes}): a block's sum of (code - 16) * q fits 16 bits when 16 * sum|q| does, so with
 * 16 * sum(q) taken off the wrapping sum of code * q is exact. More tokens run the panel GEMM over rows decoded
 * to float, as before (the integer kernels serve one token at a time here). With llama.cpp's int8 activations
 * ({@code --activations q8}) the sums would not fit, so every product then goes through the GEMM on the Q8 grid.
 */
final class Q5KMatrix extends KQuantTileMatrix {
    private static final int BLOCK = Q5KTiles.BLOCK;
    private static final int V = Q5KTiles.VECTORS;

    /**
     * Up to this many tokens, one single-token pass each ({@link KQuantTileMatrix}). At 512 bits 16: eight 2048x2048
     * products at 12 tokens 8.5 ms against 19.3 in the GEMM, at 16 tokens 11.7 against 22.9 (6144x1536 at 12: 19.3
     * against 43.3).
     * Elsewhere 12, where the GEMM's tile holds 16 tokens without padding (not measured there; the GEMM's cost is
     * mostly decoding, the same at any token count up to a tile).
     */
    static final int FEW_TOKENS = Gemm.WIDE ? 16 : 12;

    Q5KMatrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, DType.Q5_K, rows, cols, packed, roundActivations, Q5KTiles.VECTORS, TileKernels.HEAD, 1, FEW_TOKENS);
    }

    @Override
    Q8Lanes integerForm(Activations x) {
        return x.q5Lanes();
    }

    @Override
    public float plainDot(int m, Q8Lanes a) {
        // the file's super-blocks: qh at 16, qs at 48
        return Q4KTiles.plainDot(data, plainRow(m), nb / 8, a, Q5KTiles.SUPER_BYTES, 16, 48);
    }

    @Override
    void decodeTileRow(int t, int row, int b0, int b1, float[] dst, int out, int[] packed) {
        Q5KTiles.decodeRow(data, layout.blockAt(t, b0), layout.stride(t), layout.step(t), layout.headsAt(t), row, b0, b1, dst, out, packed);
    }

    // Code k (0..2) of each short lane. Under 35 bytes of bytecode, which C2 always inlines.
    private static ShortVector code(ShortVector w, int k) {
        return switch (k) {
            case 0 -> w.and((short) 31);
            case 2 -> w.lanewise(VectorOperators.LSHR, 10);
            default -> w.lanewise(VectorOperators.LSHR, 5).and((short) 31);
        };
    }

    // The block sums of code * q (16 bits, wrapping): integerSums in KQuantTileMatrix says which of the three runs.
    @Override
    void tileSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int so = layout.stride(t), step = layout.step(t);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += step) {
            ShortVector c = ShortVector.zero(SS);
            int xo = b * 32;
            long oi = o; // pointer steps, as in Q4_0Matrix
            for (int i = 0; i < V; i++, oi += so) {
                ShortVector w = TileKernels.load(data, oi);
                for (int k = 0; k < 3; k++) c = c.add(code(w, k).mul(lanes(q[xo + i + V * k])));
            }
            c.intoArray(sums, b * SUMS_BLOCK);
        }
    }

    @Override
    void pairSums256(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c = ShortVector.zero(SS), e = c;
            int xo = b * 32;
            for (int i = 0; i < V; i++) {
                ShortVector w = TileKernels.load(data, o + 4L * TR * i), v = TileKernels.load(data, o + 2L * TR + 4L * TR * i);
                for (int k = 0; k < 3; k++) {
                    ShortVector xv = lanes(q[xo + i + V * k]);
                    c = c.add(code(w, k).mul(xv));
                    e = e.add(code(v, k).mul(xv));
                }
            }
            c.intoArray(sums, b * SUMS_BLOCK);
            e.intoArray(sums, b * SUMS_BLOCK + TR);
        }
    }

    @Override
    void pairSums(int t, Q8Lanes a, short[] sums) {
        long o = layout.blockAt(t, 0);
        int[] q = a.pairs;
        for (int b = 0; b < nb; b++, o += 2 * BLOCK) {
            ShortVector c = ShortVector.zero(WS);
            int xo = b * 32;
            for (int i = 0; i < V; i++) {
                ShortVector w = TileKernels.wideLoad(data, o + 4L * TR * i);
                for (int k = 0; k < 3; k++) c = c.add(code(w, k).mul(wideLanes(q[xo + i + V * k])));
            }
            c.intoArray(sums, b * SUMS_BLOCK);
        }
    }

    @Override
    boolean finishPair(long scales, int step, long headsT, long headsU, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        TileKernels.finishAffinePair(data, scales, step, headsT, headsU, nb, 0, a, sums, slot, y, yo);
        TileKernels.finishAffinePair(data, scales, step, headsT, headsU, nb, 1, a, sums, slot, y, yo);
        return true;
    }

    @Override
    void finishHalf(long scales, int step, long heads, int half, Q8Lanes a, short[] sums, int slot, float[] y, int yo) {
        TileKernels.finishAffineHalf(data, scales, step, heads, nb, half, a, sums, slot, y, yo);
    }
}
