package moge.tensor;

import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static moge.tensor.Q4_0Matrix.TR;

/**
 * Q4_0 weights decoded into the panels that {@link ShortGemm} multiplies: {@link ShortGemm#LANES} rows at a time,
 * each code minus 8 stored twice in an int (low and high short) so that one 32-bit broadcast spreads it over all
 * short lanes. A whole pair of tiles ({@link Q4_0Matrix}'s stored layout) is decoded in vectors; the rows of an
 * unpaired tile or past the last whole tile one by one, which only the edges of a matrix take.
 */
final class Q4_0Panels {
    private Q4_0Panels() {
    }

    /**
     * The panel of {@link ShortGemm#LANES} rows of {@code w} from row {@code r} (a multiple of 32):
     * codes[(lane / 8 * cols + c) * 8 + lane % 8] = code - 8 at column c, twice, so that a kernel pass over 8
     * lanes reads its codes front to back; scales[lane * nb + b], and rowOf[lane] the row in that lane, or -1
     * past the last row. A pair of tiles keeps its lanes in the pair's order; other rows lie in lanes in order.
     */
    static void fill(Q4_0Matrix w, int r, int[] codes, float[] scales, int[] rowOf) {
        int L = ShortGemm.LANES, t = r / TR, nb = w.nb;
        TilePairs layout = w.layout;
        if (r < w.tiles * TR && layout.paired(t)) {
            for (int lane = 0; lane < L; lane++) {
                int tr = lane & 15;
                rowOf[lane] = (t + lane / 16) * TR + ((tr & 1) == 0 ? tr / 2 : 8 + tr / 2);
            }
            // a pair's 32 scales per block: both tiles' rows 0..7, then both tiles' rows 8..15 (see halfScales)
            float[] block = new float[L];
            long sc = w.halfScales(t, 0, 0);
            for (int b = 0; b < nb; b++, sc += layout.step(t)) {
                TileKernels.widenWide(w.data, sc).intoArray(block, 0);
                TileKernels.widenWide(w.data, sc + 32).intoArray(block, 16);
                for (int s = 0; s < L; s++) scales[(16 * (s / 8 % 2) + 2 * (s % 8) + s / 16) * nb + b] = block[s];
            }
            ShortGemm.decodePairs(w.data, layout.blockAt(t, 0), layout.stride(t), layout.step(t), nb, codes);
            return;
        }
        for (int lane = 0; lane < L; lane++) {
            int m = r + lane;
            rowOf[lane] = m < w.rows ? m : -1;
            if (m >= w.rows) {
                for (int c = 0; c < w.cols; c++) codes[at(w, lane, c)] = 0;
                for (int b = 0; b < nb; b++) scales[lane * nb + b] = 0f;
            } else {
                row(w, m, lane, codes, scales);
            }
        }
    }

    /** Row m (not in a pair of tiles) into lane {@code lane} of a panel. */
    private static void row(Q4_0Matrix w, int m, int lane, int[] codes, float[] scales) {
        int nb = w.nb, tileEnd = w.tiles * TR;
        MemorySegment data = w.data;
        if (m >= tileEnd) {
            long at = w.plain + (long) (m - tileEnd) * nb * 16;
            for (int b = 0; b < nb; b++, at += 16) {
                scales[lane * nb + b] = w.plainScale(m - tileEnd, b);
                for (int k = 0; k < 16; k++) {
                    int v = data.get(ValueLayout.JAVA_BYTE, at + k) & 0xFF;
                    codes[at(w, lane, b * 32 + k)] = twice((v & 15) - 8);
                    codes[at(w, lane, b * 32 + 16 + k)] = twice((v >> 4) - 8);
                }
            }
            return;
        }
        TilePairs layout = w.layout;
        int t = m / TR, row = m % TR, j = Q4_0Matrix.laneOf(row), vs = layout.stride(t), step = layout.step(t);
        long o = layout.blockAt(t, 0) + 2L * j, sc = w.halfScales(t, 0, row / 8) + 2L * (row % 8);
        for (int b = 0; b < nb; b++, o += step, sc += step) {
            scales[lane * nb + b] = Float.float16ToFloat(data.get(Layouts.I16, sc));
            // nibble k of the row's short s is position s + 8k
            for (int s = 0; s < 8; s++) {
                int v = data.get(Layouts.I16, o + (long) vs * s);
                for (int k = 0; k < 4; k++) codes[at(w, lane, b * 32 + s + 8 * k)] = twice(((v >>> 4 * k) & 15) - 8);
            }
        }
    }

    /** Where a panel holds column c of lane {@code lane}: per group of ShortGemm.ROWS lanes, column by column. */
    private static int at(Q4_0Matrix w, int lane, int c) {
        int R = ShortGemm.ROWS;
        return (lane / R * w.cols + c) * R + lane % R;
    }

    private static int twice(int v) {
        return (v & 0xFFFF) | (v << 16);
    }
}
