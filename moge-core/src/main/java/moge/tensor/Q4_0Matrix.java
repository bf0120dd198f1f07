package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Q4_0 weights, repacked at load time like {@link Q8_0Matrix}: each row's nibbles contiguous, the block
 * scales (fp16 in the file, float32 here: exact, and a broadcast load instead of a conversion per block) in a
 * separate array after all rows. Within a group of {@code 8L} values, nibble k (bits 4k..4k+3) of int lane j
 * holds value {@code k*L + j}. Nibbles 0..6 hold the code q = value + 8, nibble 7 the value itself (the
 * code XOR 8), so that the decode kernel takes nibble k out with one AND: as a signed int that is exactly
 * {@code code * 16^k} (the value times 2^28 for nibble 7), multiplied with x scaled by 16^-k, and the
 * block's -8 * sum(x) over nibbles 0..6 starts its accumulator ({@link MaskedInput}).
 */
final class Q4_0Matrix extends RepackedBlockMatrix {
    /**
     * Up to this many tokens, one decode pass per token: the GEMM decodes whole panels to float, so 2 tokens
     * cost 6.7x one decode pass there (2048x2048, 1 thread).
     */
    static final int PER_TOKEN = 6;

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    static final boolean FAST = L == 8 || L == 16;
    /** Values per interleaved group (8 nibbles per int lane). */
    static final int G = FAST ? 8 * L : 32;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final int nb;
    private final int groups;
    private final long rowBytes;
    private final long scales;

    private Q4_0Matrix(String name, int rows, int cols, MemorySegment packed, boolean roundActivations) {
        super(name, rows, cols, packed, roundActivations, PER_TOKEN);
        this.nb = cols / 32;
        this.groups = FAST ? cols / G : 0;
        this.rowBytes = cols / 2;
        this.scales = (long) rows * rowBytes;
    }

    @Override
    public DType type() {
        return DType.Q4_0;
    }

    static Q4_0Matrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        int nb = cols / 32, rb = cols / 2;
        MemorySegment out = Arena.ofAuto().allocate((long) rows * rb + (long) rows * nb * 4, 64);
        byte[] src = new byte[nb * 18];
        byte[] qs = new byte[rb];
        float[] sc = new float[nb];
        int groups = FAST ? cols / G : 0;
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) r * nb * 18, src, 0, src.length);
            for (int b = 0; b < nb; b++) sc[b] = Float.float16ToFloat((short) ((src[b * 18] & 0xFF) | (src[b * 18 + 1] << 8)));
            java.util.Arrays.fill(qs, (byte) 0);
            for (int g = 0; g < groups; g++) {
                int base = g * G, byteBase = base / 2;
                for (int j = 0; j < L; j++) {
                    for (int k = 0; k < 8; k++) {
                        int q = nibble(src, base + k * L + j) ^ (k == 7 ? 8 : 0);
                        qs[byteBase + 4 * j + k / 2] |= (byte) (q << (4 * (k & 1)));
                    }
                }
            }
            // the tail keeps ggml's order: byte i of a block holds values i (low) and i + 16 (high)
            System.arraycopy(plainTail(src, groups * G / 32, nb), 0, qs, groups * G / 2, (nb - groups * G / 32) * 16);
            MemorySegment.copy(qs, 0, out, ValueLayout.JAVA_BYTE, (long) r * rb, rb);
            MemorySegment.copy(sc, 0, out, Layouts.F32, (long) rows * rb + (long) r * nb * 4, nb);
        }
        return new Q4_0Matrix(name, rows, cols, out, roundActivations);
    }

    private static byte[] plainTail(byte[] src, int b0, int nb) {
        byte[] t = new byte[(nb - b0) * 16];
        for (int b = b0; b < nb; b++) System.arraycopy(src, b * 18 + 2, t, (b - b0) * 16, 16);
        return t;
    }

    /** The 4-bit code (0..15) of value c in ggml's block order. */
    private static int nibble(byte[] src, int c) {
        int i = c % 32;
        int q = src[(c / 32) * 18 + 2 + (i & 15)] & 0xFF;
        return i < 16 ? q & 15 : q >> 4;
    }

    private float scale(int r, int b) {
        return data.get(Layouts.F32, scales + ((long) r * nb + b) * 4);
    }

    @Override
    void prepareOne(Activations x) {
        if (FAST) {
            x.q4Masked(roundActivations);
        } else if (roundActivations) {
            x.q8Grid();
        }
    }

    @Override
    void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        // the tail (values past the last whole group) reads the plain input
        float[] xp = roundActivations ? x.q8Grid() : x.data();
        int xo = roundActivations ? 0 : x.offset();
        if (!FAST) {
            for (int r = r0; r < r1; r++) y[yOff + r] = tail(r, xp, xo);
            return;
        }
        MaskedInput m = x.q4Masked(roundActivations);
        int r = r0;
        float[] lanes = new float[2 * L];
        for (; r + 2 <= r1; r += 2) dot2(r, m.x, m.corr, xp, xo, y, yOff + r, lanes);
        for (; r < r1; r++) y[yOff + r] = dot1(r, m.x, m.corr, xp, xo, lanes);
    }

    /** Nibble masks 15 << 4k, one vector each. */
    private static final int[] MASKS = new int[8 * L];

    static {
        for (int k = 0; k < 8; k++) java.util.Arrays.fill(MASKS, k * L, (k + 1) * L, 15 << (4 * k));
    }

    // Nibble k of each int lane, masked in place, as float: code * 16^k. Helpers that take or return vectors
    // stay under 35 bytes of bytecode, which C2 always inlines; a helper it declines to inline makes the
    // vectors objects.
    private static FloatVector nib(IntVector v, IntVector mask) {
        return (FloatVector) v.and(mask).convertShape(VectorOperators.I2F, FS, 0);
    }

    /** Blocks per interleaved group, and nibble positions (vectors of L values) per block. */
    private static final int BPG = G / 32, KPB = 32 / L;

    // Two rows per pass, inner loops of constant trip count: C2 unrolls them fully and keeps the two
    // accumulator pairs in registers. With four rows (16 ymm registers on AVX2) it spilled accumulators to
    // the stack inside the loop, and loops with variable bounds stayed rolled; both measured slower.
    // Per row the same operations in the same order as dot1, so a row's result does not depend on the split.
    private void dot2(int r, float[] x, float[] corr, float[] xp, int xo, float[] y, int yo, float[] lanes) {
        long q0 = r * rowBytes, q1 = q0 + rowBytes;
        long s0 = scales + (long) r * nb * 4, s1 = s0 + 4L * nb;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            long qo = g * (G / 2);
            IntVector v0 = IntVector.fromMemorySegment(IS, data, q0 + qo, LE), v1 = IntVector.fromMemorySegment(IS, data, q1 + qo, LE);
            for (int blk = 0; blk < BPG; blk++) {
                int b = g * BPG + blk;
                FloatVector p0 = FloatVector.fromArray(FS, corr, b * L), p1 = p0;
                for (int i = 0; i < KPB; i++) {
                    int k = blk * KPB + i;
                    FloatVector xv = FloatVector.fromArray(FS, x, c + k * L);
                    IntVector mk = IntVector.fromArray(IS, MASKS, k * L);
                    p0 = nib(v0, mk).fma(xv, p0);
                    p1 = nib(v1, mk).fma(xv, p1);
                }
                a0 = p0.fma(scaleAt(s0 + 4L * b), a0);
                a1 = p1.fma(scaleAt(s1 + 4L * b), a1);
            }
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        y[yo] = VectorMath.sumLanes(lanes, 0, L) + tail(r, xp, xo);
        y[yo + 1] = VectorMath.sumLanes(lanes, L, L) + tail(r + 1, xp, xo);
    }

    private float dot1(int r, float[] x, float[] corr, float[] xp, int xo, float[] lanes) {
        long q0 = r * rowBytes;
        long s0 = scales + (long) r * nb * 4;
        FloatVector a0 = FloatVector.zero(FS);
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, data, q0 + g * (G / 2), LE);
            for (int blk = 0; blk < BPG; blk++) {
                int b = g * BPG + blk;
                FloatVector p0 = FloatVector.fromArray(FS, corr, b * L);
                for (int i = 0; i < KPB; i++) {
                    int k = blk * KPB + i;
                    p0 = nib(v0, IntVector.fromArray(IS, MASKS, k * L)).fma(FloatVector.fromArray(FS, x, c + k * L), p0);
                }
                a0 = p0.fma(scaleAt(s0 + 4L * b), a0);
            }
        }
        a0.intoArray(lanes, 0);
        return VectorMath.sumLanes(lanes, 0, L) + tail(r, xp, xo);
    }

    /** The float scale at byte {@code at}, broadcast. */
    private FloatVector scaleAt(long at) {
        return FloatVector.broadcast(FS, data.get(Layouts.F32, at));
    }

    /** Blocks past the last whole group, in ggml's order, with the value (not the code) times x. */
    private float tail(int r, float[] x, int xo) {
        return groups * G == cols ? 0 : tailBlocks(r, x, xo);
    }

    private float tailBlocks(int r, float[] x, int xo) {
        float s = 0;
        long q = r * rowBytes;
        for (int b = groups * G / 32; b < nb; b++) {
            float d = 0;
            for (int i = 0; i < 16; i++) {
                int v = data.get(ValueLayout.JAVA_BYTE, q + b * 16L + i) & 0xFF;
                d += ((v & 15) - 8) * x[xo + b * 32 + i] + ((v >> 4) - 8) * x[xo + b * 32 + 16 + i];
            }
            s += d * scale(r, b);
        }
        return s;
    }

    /** XOR with this gives every nibble as its code (value + 8). */
    private static final int TOP = 8 << 28;

    /** Nibble k of each int lane, shifted down, as float. */
    private static FloatVector code(IntVector v, int k) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4 * k).and(15).convertShape(VectorOperators.I2F, FS, 0);
    }

    @Override
    void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        int full = groups * G;
        for (int i = 0; i < n; i++) {
            int row = r + i;
            long q = row * rowBytes;
            int o = i * stride - k0;
            int c = k0;
            for (; c < k1 && c < full; c += G) {
                IntVector v = IntVector.fromMemorySegment(IS, data, q + c / 2, LE).lanewise(VectorOperators.XOR, TOP);
                for (int k = 0; k < 8; k++) {
                    float d = scale(row, (c + k * L) / 32);
                    code(v, k).sub(8f).mul(d).intoArray(dst, o + c + k * L);
                }
            }
            for (; c < k1; c += 32) {
                float d = scale(row, c / 32);
                for (int j = 0; j < 16; j++) {
                    int v = data.get(ValueLayout.JAVA_BYTE, q + c / 2 + j) & 0xFF;
                    dst[o + c + j] = d * ((v & 15) - 8);
                    dst[o + c + 16 + j] = d * ((v >> 4) - 8);
                }
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        long q = r * rowBytes;
        int full = groups * G;
        for (int c = 0; c < cols; c++) {
            int code;
            if (c < full) {
                int g = c / G, e = c % G, j = e % L, k = e / L;
                int byt = data.get(ValueLayout.JAVA_BYTE, q + g * G / 2 + 4 * j + k / 2) & 0xFF;
                code = ((byt >> (4 * (k & 1))) & 15) ^ (k == 7 ? 8 : 0);
            } else {
                int i = c % 32;
                int byt = data.get(ValueLayout.JAVA_BYTE, q + (c / 32) * 16L + (i & 15)) & 0xFF;
                code = i < 16 ? byt & 15 : byt >> 4;
            }
            out[off + c] = scale(r, c / 32) * (code - 8);
        }
    }

    /**
     * The ggml size ({@value #BLOCK_BYTES} bytes per block of 32), as in the file and in llama.cpp's model size;
     * the repacked copy holds 2 bytes more per block (its scales as float32).
     */
    @Override
    public long bytes() {
        return (long) rows * nb * BLOCK_BYTES;
    }

    private static final int BLOCK_BYTES = 18;
}
