package moge.tensor;

import moge.MogeException;
import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import java.util.stream.IntStream;

/**
 * Load-time work split over the cores: repacking a model's quantized weights touches every byte once, and on
 * one thread it was most of the start-up of a GGUF model. Uses the common fork-join pool (the caller takes a
 * share), not the model's thread team, which does not exist yet while weights load.
 */
final class Repacking {
    /** Units per run below which a matrix is not worth splitting (a run of this many rows or tiles is ~1 ms of work). */
    private static final int SMALL = 64;

    private Repacking() {
    }

    /**
     * The float16 scale {@code h} of a {@code type} tensor's row, or an error naming both: the repacked kernels do
     * not keep infinite or NaN scales (and llama.cpp would give NaN logits), so such data counts as damaged.
     */
    static short finiteScale(String name, String type, int row, short h) {
        if ((h & 0x7C00) == 0x7C00) {
            throw new MogeException(name + ": " + type + " row " + row + " has a non-finite scale (float16 bits 0x"
                    + Integer.toHexString(h & 0xFFFF) + "); the tensor data is damaged");
        }
        return h;
    }

    /** The little-endian short at {@code at}. */
    static short half(byte[] b, int at) {
        return (short) ((b[at] & 0xFF) | (b[at + 1] << 8));
    }

    /** {@code v} little-endian at b[at..at+2). */
    static void putShort(byte[] b, int at, short v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    /** {@code v}'s bits little-endian at b[at..at+4). */
    static void putFloat(byte[] b, int at, float v) {
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) b[at + i] = (byte) (bits >>> (8 * i));
    }

    /**
     * The 32 codes of a ggml 4- or 5-bit block, each plus {@code bias}, into dst[o..o+32): nibbles at {@code qs} (low
     * nibbles values 0..15, high ones 16..31) and, when {@code qh >= 0}, the fifth bits of the little-endian int at
     * {@code qh} (bit i for value i), as Q4_1, Q5_0 and Q5_1 store them.
     */
    static void codes32(byte[] src, int qs, int qh, int bias, byte[] dst, int o) {
        int h = qh < 0 ? 0 : (src[qh] & 0xFF) | (src[qh + 1] & 0xFF) << 8 | (src[qh + 2] & 0xFF) << 16 | (src[qh + 3] & 0xFF) << 24;
        for (int i = 0; i < 16; i++) {
            int q = src[qs + i] & 0xFF;
            dst[o + i] = (byte) (((q & 15) | ((h >>> i) & 1) << 4) + bias);
            dst[o + i + 16] = (byte) (((q >> 4) | ((h >>> (i + 16)) & 1) << 4) + bias);
        }
    }

    /** The 32 int8 levels of an IQ4 block's 16 nibble bytes at {@code qs} (low nibbles values 0..15) into dst[o..o+32). */
    static void iq4Codes32(byte[] src, int qs, byte[] dst, int o) {
        for (int i = 0; i < 16; i++) {
            int q = src[qs + i] & 0xFF;
            dst[o + i] = (byte) GgmlQuants.iq4nl(q & 15);
            dst[o + i + 16] = (byte) GgmlQuants.iq4nl(q >> 4);
        }
    }

    /**
     * Rows [first, first + count) of a K-quant tensor ({@code type}: fp16 scales at {@code scales} in each
     * super-block of {@code superBytes}, d and dmin at 0 and 2 when none are given) copied as they are to
     * {@code out} at {@code at}, their scales checked: the rows past a tiled repack's last whole tile.
     */
    static void copySupers(String name, String type, MemorySegment blocks, int first, int count, int nsb, int superBytes, MemorySegment out, long at, int... scales) {
        int[] where = scales.length == 0 ? new int[]{0, 2} : scales;
        for (int m = 0; m < count; m++) {
            long from = (long) (first + m) * nsb * superBytes;
            for (int s = 0; s < nsb; s++) {
                long sb = from + (long) s * superBytes;
                for (int w : where) finiteScale(name, type, first + m, blocks.get(Layouts.I16, sb + w));
            }
            MemorySegment.copy(blocks, from, out, at + (long) m * nsb * superBytes, (long) nsb * superBytes);
        }
    }

    /** Fills one tile from its rows' super-blocks in the file's layout ({@code src}, also as a segment). */
    interface TileFill {
        void fill(int t, byte[] src, MemorySegment srcSegment, byte[] tile);
    }

    /**
     * A K-quant tensor into tiles of {@link TileKernels#TR} rows, each {@code tileBytes} long and filled by
     * {@code fill} from a copy of its rows (tiles in runs over the cores, each run with buffers of its own), then
     * the rows past the last whole tile as they are ({@link #copySupers}, scales at {@code scales}).
     */
    static MemorySegment tiles(String name, String type, int rows, int cols, MemorySegment blocks, long tileBytes, int superBytes, TileFill fill, int... scales) {
        int TR = TileKernels.TR, nsb = cols / 256, tiles = rows / TR, left = rows - tiles * TR, rowBytes = nsb * superBytes;
        MemorySegment out = HugePages.allocate(tiles * tileBytes + (long) left * rowBytes);
        forRuns(tiles, 1, (t0, t1) -> {
            byte[] src = new byte[TR * rowBytes];
            MemorySegment srcSeg = MemorySegment.ofArray(src); // for GgmlQuants' readers of packed fields
            byte[] tile = new byte[(int) tileBytes];
            for (int t = t0; t < t1; t++) {
                MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) t * TR * rowBytes, src, 0, src.length);
                fill.fill(t, src, srcSeg, tile);
                MemorySegment.copy(tile, 0, out, ValueLayout.JAVA_BYTE, t * tileBytes, tile.length);
            }
        });
        copySupers(name, type, blocks, tiles * TR, left, nsb, superBytes, out, tiles * tileBytes, scales);
        return out;
    }

    interface Run {
        void rows(int from, int to);
    }

    /** Calls {@code run} over runs that cover [0, n), each run a multiple of {@code align} except the last. */
    static void forRuns(int n, int align, Run run) {
        if (n <= 0) return;
        int parts = Math.min(4 * Runtime.getRuntime().availableProcessors(), Math.max(1, n / SMALL));
        if (parts <= 1) {
            run.rows(0, n);
            return;
        }
        int per = ((n + parts - 1) / parts + align - 1) / align * align;
        IntStream.range(0, (n + per - 1) / per).parallel().forEach(i -> run.rows(i * per, Math.min(n, (i + 1) * per)));
    }
}
