package moge.tensor;

import static moge.tensor.Q8Quads.group;
import static moge.tensor.Q8Quads.half;
import static moge.tensor.Q8Quads.pair;
import static moge.tensor.Q8Quads.slice;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Q8_0 weights, repacked at load time (same bits, another order; shared/KERNELS.md point 1): int8 values
 * apart from the fp16 block scales, which follow all rows in a separate array. Within a group of {@code 4L}
 * values (L = float lanes) byte k of int lane j holds value {@link Q8Interleave#valueOf valueOf(j, k)}: each
 * block over 8 int lanes, at 512 bits a group's two side by side. One int load and a pair of shifts per byte
 * position give L values as floats, which meet the activations in the same order ({@link Q8Ints#g}), and the
 * lanes of each block take its scale (a group's {@link Q8Quads#group scale vector}). Values past the last
 * whole group (a row tail when cols is not a multiple of 4L) keep the plain block order.
 * <p>
 * Rows come in quads, the unit of the decode kernel: a quad's four rows are interleaved group by group (then
 * their tails), and so are their scales block by block, so that the kernel reads two streams, not eight
 * (from DRAM a thread kept 8.7 GB/s of the 11.4 it reaches in cache). Rows past the last whole quad are
 * stored plainly; {@link #byteOf} and {@link #scaleAt} give any row's place, {@link Q8Interleave} writes them.
 * <p>
 * The activations are integers per block ({@link Q8Ints}, on a grid never coarser than llama.cpp's int8 one):
 * the one-token kernel ({@link Q8Quads#ints}) multiplies them with the weights in 16-bit lanes, and the float
 * kernels (a few tokens, rows outside quads) with the weights widened to float, where products and
 * block sums of integers are exact, so a token's rows come out bit for bit the same on every path. Many tokens go
 * through the GEMM on float activations.
 * <p>
 * Q5_0 loads here too ({@link #repackQ5_0}): its value d * (q - 16), q in 0..31, is the Q8_0 value of code
 * q - 16 and the same d, so widening each block to Q8_0 is lossless, at 8.5 bits a weight in memory against the
 * file's 5.5. IQ4_NL likewise ({@link #repackIQ4_NL}): its levels are int8 under the block's fp16 d (8.5 bits
 * against 4.5).
 */
final class Q8_0Matrix extends RepackedBlockMatrix {
    /**
     * Up to this many tokens, {@link #matmulFew}: the GEMM decodes whole panels to float and pads to 16 tokens,
     * so from 5 tokens on it costs what 16 do (2048x2048, 2 threads: 5-16 tokens 9.4-11.7 ms against 1.6-2.1 for
     * one); here 4 tokens take 4.5-6.1 ms and 6 tokens 7.9-9.8. At 512 bits, where two rows share each load
     * ({@link #dot2x4}), up to 13 tokens: 9.3 ms at 13 against 10.0 in {@link NarrowGemm}, 10.2 against 9.9 at 14
     * (6144x1536: 21.1 against 22.4, 23.6 against 22.4).
     */
    static final int FEW_TOKENS = Gemm.WIDE ? 13 : 6;

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    static final int L = FS.length();
    /** Interleaving needs a group of one or two whole blocks; other widths keep the plain order. */
    static final boolean FAST = L == 8 || L == 16;
    static final int G = FAST ? 4 * L : 32;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final int nb;       // blocks per row
    private final int groups;   // interleaved groups per row
    private final long scales;  // byte offset of the fp16 scales
    private final int quadRows; // rows stored in quads
    /**
     * The Q8_0 blocks as given (not copied: the mapped file, or a quantized copy's arena), read only by
     * {@link #matmulLlama}; null for Q5_0, whose dot products llama.cpp takes in another order anyway.
     */
    private final MemorySegment blocks;
    private final DType type;

    private Q8_0Matrix(String name, DType type, int rows, int cols, MemorySegment packed, MemorySegment blocks, boolean roundActivations) {
        super(name, rows, cols, packed, roundActivations, FEW_TOKENS);
        this.type = type;
        this.blocks = blocks;
        this.nb = cols / 32;
        this.groups = FAST ? cols / G : 0;
        this.scales = (long) rows * cols;
        this.quadRows = rows / 4 * 4;
    }

    /** Where value c of row r lies (in the repacked order within its group). */
    private long byteOf(int r, int c) {
        return Q8Interleave.byteOf(r, c, cols, groups * G, quadRows);
    }

    @Override
    public DType type() {
        return type;
    }

    /**
     * Repacks ggml blocks (row after row, 34 bytes per 32 values) into a new off-heap array.
     */
    static Q8_0Matrix repack(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        MemorySegment out = Q8Interleave.ofQ8_0(rows, cols, blocks);
        return new Q8_0Matrix(name, DType.Q8_0, rows, cols, out, blocks.asSlice(0, (long) rows * (cols / 32) * 34), roundActivations);
    }

    /** Q5_0 blocks (fp16 d, 4 bytes of fifth bits, 16 of nibbles), each widened to its Q8_0 block. */
    static Q8_0Matrix repackQ5_0(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        MemorySegment out = Q8Interleave.widened(DType.Q5_0, rows, cols, blocks,
                (r, q, p, dst, o) -> Repacking.codes32(q, p + 6, p + 2, -16, dst, o));
        return new Q8_0Matrix(name, DType.Q5_0, rows, cols, out, null, roundActivations);
    }

    /**
     * IQ4_NL blocks (fp16 d, 16 bytes of nibbles indexing kvalues_iq4nl), each widened to its Q8_0 block: the
     * levels are int8 and the scale the same fp16, so d * level is ggml's value to the bit.
     */
    static Q8_0Matrix repackIQ4_NL(String name, int rows, int cols, MemorySegment blocks, boolean roundActivations) {
        MemorySegment out = Q8Interleave.widened(DType.IQ4_NL, rows, cols, blocks, (r, q, p, dst, o) -> {
            Repacking.finiteScale(name, "IQ4_NL", r, Repacking.half(q, p));
            Repacking.iq4Codes32(q, p + 2, dst, o);
        });
        return new Q8_0Matrix(name, DType.IQ4_NL, rows, cols, out, null, roundActivations);
    }

    private long scaleAt(int r, int b) {
        return scales + Q8Interleave.scaleIndex(r, b, nb, quadRows) * 2;
    }

    /** Row r's scale vector for group g (its blocks' scales times the activations' at dx[dOff ..]). */
    private FloatVector groupScale(int r, int g, float[] dx, int dOff) {
        int b = BPG * g;
        return group(scale(r, b), dx[dOff + b], scale(r, b + BPG - 1), dx[dOff + b + BPG - 1]);
    }

    /** Row r's weight scales of group g as {@link Q8Quads#pair}: read once where several tokens share them. */
    private FloatVector weightPair(int r, int g) {
        return pair(scale(r, BPG * g), scale(r, BPG * g + BPG - 1));
    }

    /** A token's activation scales of group g (its block scales from dx[dOff]) as {@link Q8Quads#pair}. */
    private static FloatVector dxPair(float[] dx, int dOff, int g) {
        return pair(dx[dOff + BPG * g], dx[dOff + BPG * g + BPG - 1]);
    }

    /** The weights' fp16 scale at byte {@code at}: read once per row and block where several tokens share it. */
    private float weightScale(long at) {
        return Float.float16ToFloat(data.get(Layouts.I16, at));
    }

    private float scale(int r, int b) {
        return weightScale(scaleAt(r, b));
    }

    @Override
    void prepareOne(Activations x) {
        x.q8Ints(roundActivations);
    }

    @Override
    void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        matmulToken(x.q8Ints(roundActivations), 0, y, yOff, r0, r1);
    }

    /** Token t of a (the batch's integer form, so that a few tokens are not rounded twice) into y[yOff + r]. */
    private void matmulToken(Q8Ints a, int t, float[] y, int yOff, int r0, int r1) {
        float[] xs = a.g, dx = a.d;
        int xo = t * cols, dOff = t * nb, io = t * Q8Ints.perToken(cols);
        int r = r0;
        int run = groups <= SHORT_GROUPS ? RUN : 4;
        float[] lanes = new float[run * L];
        while (r < r1) {
            if (FAST && r % 4 == 0 && r + 4 <= Math.min(r1, quadRows)) {
                int end = Math.min(r + run, r + (Math.min(r1, quadRows) - r) / 4 * 4);
                for (int q = r; q < end; q += 4) Q8Quads.ints(data, byteOf(q, 0), scaleAt(q, 0), groups, a, io, dOff, lanes, (q - r) * L);
                for (int q = r; q < end; q += 4) finish4(q, lanes, (q - r) * L, xs, xo, dx, dOff, y, yOff + q);
                r = end;
            } else {
                y[yOff + r] = dot1(r, xs, xo, dx, dOff, lanes);
                r++;
            }
        }
    }

    @Override
    boolean llamaOrder() {
        return L == 8 && blocks != null;
    }

    /**
     * llama.cpp's AVX2 Q8_0 x Q8_0 dot product (ggml_vec_dot_q8_0_q8_0; its GEMM sums the same way): per block,
     * lane m sums the integer products of values 4m .. 4m+3 (exact in float), then adds them times
     * d_weight * d_activation with an FMA; the 8 lanes are added as ((0+4) + (2+6)) + ((1+5) + (3+7)). Read from
     * the blocks in their ggml order, where the 8 ints of a block are exactly those lanes.
     */
    @Override
    void matmulLlama(Activations x, int t, float[] y, int yOff, int r0, int r1) {
        float[] q = x.q8Slices(), d = x.q8Scales();
        int qo = t * cols, dOff = t * nb;
        float[] lanes = new float[L];
        for (int r = r0; r < r1; r++) {
            long base = (long) r * nb * 34;
            FloatVector acc = FloatVector.zero(FS);
            for (int b = 0; b < nb; b++) {
                IntVector v = IntVector.fromMemorySegment(IS, blocks, base + 34L * b + 2, LE);
                int o = qo + 32 * b;
                FloatVector p = FloatVector.zero(FS);
                for (int k = 0; k < 4; k++) p = slice(v, k).fma(FloatVector.fromArray(FS, q, o + 8 * k), p);
                float s = Float.float16ToFloat(blocks.get(Layouts.I16, base + 34L * b)) * d[dOff + b];
                acc = FloatVector.broadcast(FS, s).fma(p, acc);
            }
            acc.intoArray(lanes, 0);
            y[yOff + r] = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        }
    }

    /** Blocks per interleaved group. */
    static final int BPG = G / 32;

    /**
     * Rows per run of {@link #matmulOne}: their quads' accumulators are all stored first (4 KB at 512 bits), then
     * summed. Summing each quad right after it (a chain of ~50 cycles of shuffles and adds) left the next quad
     * waiting: rows of 192 values ran 1.3x slower than with no sums at all.
     */
    private static final int RUN = 64;
    /** Rows of up to this many groups sum their quads after a run; longer ones (runs of one quad) hide each quad's sums themselves. */
    static final int SHORT_GROUPS = 8;

    /** The sums of the quad at r, its accumulators at lanes[off, off + 4L), into y[yo ..]. */
    private void finish4(int r, float[] lanes, int off, float[] x, int xo, float[] dx, int dOff, float[] y, int yo) {
        LaneSums.sum4(lanes, off, y, yo); // quads run only at the widths LaneSums is written for (FAST)
        for (int i = 0; i < 4; i++) y[yo + i] += tail(r + i, x, xo, dx, dOff);
    }

    /** Row r against the integers at x[xo ..] with block scales dx[dOff ..]: the float form of the quads' kernel. */
    private float dot1(int r, float[] x, int xo, float[] dx, int dOff, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FS);
        long q = byteOf(r, 0), step = r < quadRows ? 4 : 1;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, data, q + step * c, LE);
            FloatVector p0 = FloatVector.zero(FS);
            for (int k = 0; k < 4; k++) p0 = slice(v0, k).fma(FloatVector.fromArray(FS, x, xo + c + k * L), p0);
            a0 = p0.fma(groupScale(r, g, dx, dOff), a0);
        }
        a0.intoArray(lanes, 0);
        return sum(lanes, 0) + tail(r, x, xo, dx, dOff);
    }

    @Override
    void prepareFew(Activations x) {
        x.q8Ints(roundActivations);
        if (!roundActivations && FAST && x.tokens() >= 4) x.groupedFours();
    }

    /**
     * A few tokens: each weight slice is widened to float once and multiplied into four tokens' sums (two or
     * three for the last ones), since widening, not the FMA, is what a pass costs. Each (row, token) sum takes
     * the steps of {@link #dot1} in its order, so a token's result is the one it gets alone, whatever its batch.
     */
    @Override
    void matmulFew(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens(), t = 0;
        Q8Ints a = x.q8Ints(roundActivations);
        if (roundActivations || !FAST) {
            for (; t < T; t++) matmulToken(a, t, y, yOff + t * yStride, r0, r1);
            return;
        }
        float[] xs = a.g, dx = a.d, xg = T >= 4 ? x.groupedFours() : null, lanes = new float[4 * L];
        for (; t + 4 <= T; t += 4) {
            int r = r0;
            if (PAIRS) {
                for (; r + 2 <= r1; r += 2) dot2x4(r, xg, xs, t * cols, dx, t * nb, y, yOff + t * yStride + r, yStride, lanes);
            }
            for (; r < r1; r++) dot1x4(r, xg, xs, t * cols, dx, t * nb, y, yOff + t * yStride + r, yStride, lanes);
        }
        // two or three left (a short draft's verification, two or three streams): one pass over the weights, not one each
        int n = T - t == 3 && PAIRS ? 3 : Math.min(2, T - t);
        if (n >= 2) {
            int r = r0, at = t * cols, dAt = t * nb, yo = yOff + t * yStride;
            float[] scaleVectors = new float[8 * L];
            while (r < r1) {
                if (n == 3 && r + 2 <= r1) {
                    dot2x3(r, xs, at, dx, dAt, y, yo + r, yStride, lanes);
                    r += 2;
                } else if (n == 2 && r % 4 == 0 && r + 4 <= Math.min(r1, quadRows)) {
                    dot4x2(r, xs, at, dx, dAt, y, yo + r, yStride, lanes, scaleVectors);
                    r += 4;
                } else {
                    for (int j = 0; j < n; j++) y[yo + j * yStride + r] = dot1(r, xs, at + j * cols, dx, dAt + j * nb, lanes);
                    r++;
                }
            }
            t += n;
        }
        for (; t < T; t++) matmulToken(a, t, y, yOff + t * yStride, r0, r1);
    }

    /**
     * The quad of rows at r against two tokens (token j at xo + j * cols, into y[yo + j * yStride + i] for row
     * r + i), each sum in dot1's order: the weights are read once for both tokens, and a quad as one stream
     * (two rows at a time read half of each group's cache lines, then came back for the rest: two tokens cost
     * 2.4 times one).
     */
    private void dot4x2(int r, float[] x, int xo, float[] dx, int dOff, float[] y, int yo, int yStride, float[] lanes, float[] scaleVectors) {
        long q0 = byteOf(r, 0), q1 = q0 + G, q2 = q1 + G, q3 = q2 + G;
        long s0 = scaleAt(r, 0);
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int x1 = xo + cols;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            long go = 4L * c;
            IntVector v0 = IntVector.fromMemorySegment(IS, data, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, data, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, data, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, data, q3 + go, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0, e0 = p0, e1 = p0, e2 = p0, e3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xa = FloatVector.fromArray(FS, x, xo + c + k * L), xb = FloatVector.fromArray(FS, x, x1 + c + k * L);
                FloatVector w = slice(v0, k);
                p0 = w.fma(xa, p0);
                e0 = w.fma(xb, e0);
                w = slice(v1, k);
                p1 = w.fma(xa, p1);
                e1 = w.fma(xb, e1);
                w = slice(v2, k);
                p2 = w.fma(xa, p2);
                e2 = w.fma(xb, e2);
                w = slice(v3, k);
                p3 = w.fma(xa, p3);
                e3 = w.fma(xb, e3);
            }
            long at = s0 + 8L * BPG * g; // the quad's four fp16 scales of each block of the group
            long bits0 = data.get(Layouts.I64, at), bits1 = BPG == 2 ? data.get(Layouts.I64, at + 8) : bits0;
            // the eight scale vectors through L1, formed in a loop: written out they put this kernel past C2's
            // inlining budget (vectors as objects, two tokens 2.5x slower)
            FloatVector da = dxPair(dx, dOff, g), db = dxPair(dx, dOff + nb, g);
            for (int i = 0; i < 4; i++) {
                FloatVector w = pair(half(bits0, i), half(bits1, i));
                w.mul(da).intoArray(scaleVectors, 2 * i * L);
                w.mul(db).intoArray(scaleVectors, (2 * i + 1) * L);
            }
            a0 = p0.fma(FloatVector.fromArray(FS, scaleVectors, 0), a0);
            b0 = e0.fma(FloatVector.fromArray(FS, scaleVectors, L), b0);
            a1 = p1.fma(FloatVector.fromArray(FS, scaleVectors, 2 * L), a1);
            b1 = e1.fma(FloatVector.fromArray(FS, scaleVectors, 3 * L), b1);
            a2 = p2.fma(FloatVector.fromArray(FS, scaleVectors, 4 * L), a2);
            b2 = e2.fma(FloatVector.fromArray(FS, scaleVectors, 5 * L), b2);
            a3 = p3.fma(FloatVector.fromArray(FS, scaleVectors, 6 * L), a3);
            b3 = e3.fma(FloatVector.fromArray(FS, scaleVectors, 7 * L), b3);
        }
        a0.intoArray(lanes, 0);
        b0.intoArray(lanes, L);
        finish(r, 2, lanes, x, xo, dx, dOff, y, yo, yStride);
        a1.intoArray(lanes, 0);
        b1.intoArray(lanes, L);
        finish(r + 1, 2, lanes, x, xo, dx, dOff, y, yo + 1, yStride);
        a2.intoArray(lanes, 0);
        b2.intoArray(lanes, L);
        finish(r + 2, 2, lanes, x, xo, dx, dOff, y, yo + 2, yStride);
        a3.intoArray(lanes, 0);
        b3.intoArray(lanes, L);
        finish(r + 3, 2, lanes, x, xo, dx, dOff, y, yo + 3, yStride);
    }

    /** Rows r and r + 1 against three tokens, as {@link #dot4x2}; its twelve sums need AVX-512's 32 vector registers ({@link #PAIRS}). */
    private void dot2x3(int r, float[] x, int xo, float[] dx, int dOff, float[] y, int yo, int yStride, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0;
        long q = byteOf(r, 0), qn = byteOf(r + 1, 0), step = r < quadRows ? 4 : 1, stepN = r + 1 < quadRows ? 4 : 1;
        int x1 = xo + cols, x2 = x1 + cols;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            IntVector v = IntVector.fromMemorySegment(IS, data, q + step * c, LE);
            IntVector u = IntVector.fromMemorySegment(IS, data, qn + stepN * c, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, e0 = p0, e1 = p0, e2 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector w = slice(v, k), wn = slice(u, k);
                int o = c + k * L;
                FloatVector xa = FloatVector.fromArray(FS, x, xo + o), xb = FloatVector.fromArray(FS, x, x1 + o);
                FloatVector xc = FloatVector.fromArray(FS, x, x2 + o);
                p0 = w.fma(xa, p0);
                p1 = w.fma(xb, p1);
                p2 = w.fma(xc, p2);
                e0 = wn.fma(xa, e0);
                e1 = wn.fma(xb, e1);
                e2 = wn.fma(xc, e2);
            }
            FloatVector w = weightPair(r, g), wn = weightPair(r + 1, g);
            FloatVector d0 = dxPair(dx, dOff, g), d1 = dxPair(dx, dOff + nb, g), d2 = dxPair(dx, dOff + 2 * nb, g);
            a0 = p0.fma(w.mul(d0), a0);
            a1 = p1.fma(w.mul(d1), a1);
            a2 = p2.fma(w.mul(d2), a2);
            b0 = e0.fma(wn.mul(d0), b0);
            b1 = e1.fma(wn.mul(d1), b1);
            b2 = e2.fma(wn.mul(d2), b2);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        finish(r, 3, lanes, x, xo, dx, dOff, y, yo, yStride);
        b0.intoArray(lanes, 0);
        b1.intoArray(lanes, L);
        b2.intoArray(lanes, 2 * L);
        finish(r + 1, 3, lanes, x, xo, dx, dOff, y, yo + 1, yStride);
    }

    /**
     * Row r against four tokens' integers, into y[yo + j * yStride]: the whole groups from their interleaved form
     * at xg[xo ..] ({@link Activations#groupedFours}: one index, so C2 checks its bounds once per slice rather than
     * once per token), the tail from the plain form, token j at x[xo + j * cols], its block scales at dx[dOff + j * nb].
     */
    private void dot1x4(int r, float[] xg, float[] x, int xo, float[] dx, int dOff, float[] y, int yo, int yStride, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        long q = byteOf(r, 0), step = r < quadRows ? 4 : 1;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            IntVector v = IntVector.fromMemorySegment(IS, data, q + step * c, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector w = slice(v, k);
                int xi = xo + 4 * (c + k * L);
                p0 = w.fma(FloatVector.fromArray(FS, xg, xi), p0);
                p1 = w.fma(FloatVector.fromArray(FS, xg, xi + L), p1);
                p2 = w.fma(FloatVector.fromArray(FS, xg, xi + 2 * L), p2);
                p3 = w.fma(FloatVector.fromArray(FS, xg, xi + 3 * L), p3);
            }
            FloatVector w = weightPair(r, g);
            a0 = p0.fma(w.mul(dxPair(dx, dOff, g)), a0);
            a1 = p1.fma(w.mul(dxPair(dx, dOff + nb, g)), a1);
            a2 = p2.fma(w.mul(dxPair(dx, dOff + 2 * nb, g)), a2);
            a3 = p3.fma(w.mul(dxPair(dx, dOff + 3 * nb, g)), a3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        finish(r, 4, lanes, x, xo, dx, dOff, y, yo, yStride);
    }

    /** Row r's sums for n tokens, lanes [j * L, (j + 1) * L) for token j at xo + j * cols, into y[yo + j * yStride]. */
    private void finish(int r, int n, float[] lanes, float[] x, int xo, float[] dx, int dOff, float[] y, int yo, int yStride) {
        for (int j = 0; j < n; j++) y[yo + j * yStride] = sum(lanes, j * L) + tail(r, x, xo + j * cols, dx, dOff + j * nb);
    }

    /**
     * Whether {@link #dot2x4} runs: two rows share each load of the four tokens' activations. Its sixteen sums
     * need AVX-512's 32 vector registers; with AVX2's 16 they would spill.
     */
    private static final boolean PAIRS = FAST && Gemm.WIDE;

    /** As {@link #dot1x4} for rows r and r + 1 (into y[yo + j * yStride] and the next row), each in dot1's order. */
    private void dot2x4(int r, float[] xg, float[] x, int xo, float[] dx, int dOff, float[] y, int yo, int yStride, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long q = byteOf(r, 0), qn = byteOf(r + 1, 0), step = r < quadRows ? 4 : 1, stepN = r + 1 < quadRows ? 4 : 1;
        for (int g = 0; g < groups; g++) {
            int c = g * G;
            IntVector v = IntVector.fromMemorySegment(IS, data, q + step * c, LE);
            IntVector u = IntVector.fromMemorySegment(IS, data, qn + stepN * c, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0, e0 = p0, e1 = p0, e2 = p0, e3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector w = slice(v, k), wn = slice(u, k);
                int xi = xo + 4 * (c + k * L);
                FloatVector x0 = FloatVector.fromArray(FS, xg, xi), x1 = FloatVector.fromArray(FS, xg, xi + L);
                FloatVector x2 = FloatVector.fromArray(FS, xg, xi + 2 * L), x3 = FloatVector.fromArray(FS, xg, xi + 3 * L);
                p0 = w.fma(x0, p0);
                p1 = w.fma(x1, p1);
                p2 = w.fma(x2, p2);
                p3 = w.fma(x3, p3);
                e0 = wn.fma(x0, e0);
                e1 = wn.fma(x1, e1);
                e2 = wn.fma(x2, e2);
                e3 = wn.fma(x3, e3);
            }
            FloatVector w = weightPair(r, g), wn = weightPair(r + 1, g);
            FloatVector d0 = dxPair(dx, dOff, g), d1 = dxPair(dx, dOff + nb, g);
            FloatVector d2 = dxPair(dx, dOff + 2 * nb, g), d3 = dxPair(dx, dOff + 3 * nb, g);
            a0 = p0.fma(w.mul(d0), a0);
            a1 = p1.fma(w.mul(d1), a1);
            a2 = p2.fma(w.mul(d2), a2);
            a3 = p3.fma(w.mul(d3), a3);
            b0 = e0.fma(wn.mul(d0), b0);
            b1 = e1.fma(wn.mul(d1), b1);
            b2 = e2.fma(wn.mul(d2), b2);
            b3 = e3.fma(wn.mul(d3), b3);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        finish(r, 4, lanes, x, xo, dx, dOff, y, yo, yStride);
        b0.intoArray(lanes, 0);
        b1.intoArray(lanes, L);
        b2.intoArray(lanes, 2 * L);
        b3.intoArray(lanes, 3 * L);
        finish(r + 1, 4, lanes, x, xo, dx, dOff, y, yo + 1, yStride);
    }

    /** A row's accumulator summed: as {@link LaneSums} orders it (every path the same), plainly at other widths. */
    private static float sum(float[] lanes, int off) {
        return LaneSums.SUPPORTED ? LaneSums.sum(lanes, off) : VectorMath.sumLanes(lanes, off, L);
    }


    /** The blocks past the last whole group, in plain order (integers x, block scales dx[dOff ..]). */
    private float tail(int r, float[] x, int xo, float[] dx, int dOff) {
        return groups * G == cols ? 0 : tailBlocks(r, x, xo, dx, dOff);
    }

    private float tailBlocks(int r, float[] x, int xo, float[] dx, int dOff) {
        float s = 0;
        long q = byteOf(r, groups * G) - groups * G;
        for (int b = groups * G / 32; b < nb; b++) {
            float d = 0;
            for (int i = 0; i < 32; i++) {
                int c = b * 32 + i;
                d += data.get(ValueLayout.JAVA_BYTE, q + c) * x[xo + c];
            }
            s += d * (scale(r, b) * dx[dOff + b]);
        }
        return s;
    }

    @Override
    void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        int full = groups * G;
        for (int i = 0; i < n; i++) {
            int row = r + i;
            int o = i * stride - k0;
            int c = k0;
            // a group of a row in a quad lies 4 groups after the row's previous one
            long q = byteOf(row, 0), step = row < quadRows ? 4 : 1;
            for (; c < k1 && c < full; c += G) {
                IntVector v = IntVector.fromMemorySegment(IS, data, q + step * c, LE);
                FloatVector d = weightPair(row, c / G);
                for (int k = 0; k < 4; k++) {
                    FloatVector f = slice(v, k).mul(d); // values 8k.. of the group's first block, then of its second
                    if (BPG == 1) f.intoArray(dst, o + c + 8 * k);
                    else TileKernels.storeHalves(f, dst, o + c + 8 * k, o + c + 32 + 8 * k); // not masked stores: see there
                }
            }
            for (; c < k1; c++) dst[o + c] = data.get(ValueLayout.JAVA_BYTE, byteOf(row, c)) * scale(row, c / 32);
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        int full = groups * G;
        for (int c = 0; c < cols; c++) {
            int src = c;
            if (c < full) {
                int g = c / G, e = c % G;               // value e of group g: byte k of int lane j (Q8Interleave.valueOf)
                src = g * G + 4 * (8 * (e / 32) + e % 8) + e % 32 / 8;
            }
            out[off + c] = data.get(ValueLayout.JAVA_BYTE, byteOf(r, src)) * scale(r, c / 32);
        }
    }

    /** The ggml size, as in the file and in llama.cpp's model size (Q5_0 and IQ4_NL: their own blocks, not the widened ones). */
    @Override
    public long bytes() {
        return (long) rows * (cols / 32) * type.blockBytes;
    }
}
