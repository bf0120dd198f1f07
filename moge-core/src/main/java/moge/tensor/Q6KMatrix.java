package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.HugePages;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Q6_K weights (ggml: per 256 values 128 bytes of low nibbles, 64 of 2-bit high parts, sixteen int8 scales, fp16
 * d), repacked at load time into whole bytes: per run of 32 values the 32 codes less 32 as int8, then the two
 * scales d * sc of its halves as float32 (10 bits a weight against the file's 6.56). Each value is then one
 * shift pair away from an int, as in Q8_0's kernel: decoding the 6-bit fields in registers cost 1.4 instructions
 * a weight and ran at a quarter of Q4_K's speed per weight (BENCHMARKS.md). Values are exact: (d * sc) * code,
 * as ggml's dequantization rounds them.
 * <p>
 * The single-token kernel reads 32 bytes as 8 ints, so byte k of int lane j is value 4j + k; the activations are
 * reordered once per input to match ({@link Activations#runOrder}), and lanes 0..3 (values 0..15) take the first scale,
 * lanes 4..7 the second. A few tokens take that kernel one at a time, more the panel GEMM over rows decoded to float.
 * <p>
 * Runs can also be affine ({@link #affine}): codes q in 0..31 as they are, then a scale and a min in the two float
 * slots, a value (scale * q) - min, and a dot product subtracts each run's min times the run's sum of activations,
 * the sums taken once per input. Q5_K ran here until it moved to 16-bit tiles ({@link Q5KTiles}); mins kept in
 * an array of their own instead (a second stream, 11 bits a weight) ran at 17.4 GFLOP/s against 20.8
 * ({@code KernelBench Q5_K 2048 2048 32 2 1}; Q6_K 21.7).
 * Q4_1 and Q5_1 blocks ({@link AffineBlocksRepack}) are such runs as they stand: d and -m.
 */
final class Q6KMatrix extends Matrix {
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorMask<Float> UPPER = VectorMask.fromLong(F8, 0xF0);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes per run of 32 values: the codes, then two float scales. */
    static final int RUN = 40;
    private static final int SUPER_BYTES = 210;
    private final Gemm.Source source = this::decode;
    private final int runs;
    private final DType type;
    /** Q4_1, Q5_1: a run's second float is not the scale of its upper half but a min subtracted from all 32 values. */
    private final boolean affine;

    Q6KMatrix(String name, DType type, int rows, int cols, MemorySegment packed) {
        super(name, rows, cols, packed);
        this.runs = cols / 32;
        this.type = type;
        this.affine = type == DType.Q4_1 || type == DType.Q5_1;
    }

    @Override
    public DType type() {
        return type;
    }

    static Q6KMatrix repack(String name, int rows, int cols, MemorySegment blocks) {
        return fromRows(name, DType.Q6_K, rows, cols, blocks, (r, src, dst) -> {
            for (int s = 0; s < cols / 256; s++) repackSuper(name, r, src, s * SUPER_BYTES, dst, s * 8 * RUN);
        });
    }

    /** Turns row {@code row}'s ggml blocks ({@code src}) into its runs ({@code dst}, every byte written). */
    interface RowRuns {
        void convert(int row, byte[] src, byte[] dst);
    }

    /** A {@code type} matrix whose ggml rows {@code f} turns into runs; rows are independent, so runs of them go to every core. */
    static Q6KMatrix fromRows(String name, DType type, int rows, int cols, MemorySegment blocks, RowRuns f) {
        int runs = cols / 32, rowBytes = cols / type.blockSize * type.blockBytes;
        MemorySegment out = HugePages.allocate((long) rows * runs * RUN);
        Repacking.forRuns(rows, 1, (r0, r1) -> {
            byte[] src = new byte[rowBytes], dst = new byte[runs * RUN];
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(blocks, ValueLayout.JAVA_BYTE, (long) r * rowBytes, src, 0, rowBytes);
                f.convert(r, src, dst);
                MemorySegment.copy(dst, 0, out, ValueLayout.JAVA_BYTE, (long) r * dst.length, dst.length);
            }
        });
        return new Q6KMatrix(name, type, rows, cols, out);
    }

    /** One super-block (256 values) into 8 runs, following ggml's dequantize_row_q6_K field by field. */
    private static void repackSuper(String name, int row, byte[] src, int p, byte[] dst, int o) {
        float d = Float.float16ToFloat(Repacking.finiteScale(name, "Q6_K", row, Repacking.half(src, p + 208)));
        for (int half = 0; half < 2; half++) {
            int ql = p + 64 * half, qh = p + 128 + 32 * half, base = 128 * half;
            for (int l = 0; l < 32; l++) {
                int hb = src[qh + l] & 0xFF, lo = src[ql + l] & 0xFF, lo2 = src[ql + l + 32] & 0xFF;
                code(dst, o, base + l, (lo & 15) | ((hb & 3) << 4));
                code(dst, o, base + l + 32, (lo2 & 15) | (((hb >> 2) & 3) << 4));
                code(dst, o, base + l + 64, (lo >> 4) | (((hb >> 4) & 3) << 4));
                code(dst, o, base + l + 96, (lo2 >> 4) | (((hb >> 6) & 3) << 4));
            }
        }
        for (int g = 0; g < 16; g++) {
            Repacking.putFloat(dst, o + (g / 2) * RUN + 32 + 4 * (g % 2), d * src[p + 192 + g]);
        }
    }

    private static void code(byte[] dst, int o, int pos, int q) {
        dst[o + (pos / 32) * RUN + pos % 32] = (byte) (q - 32);
    }

    /**
     * Up to this many tokens (speculative verification, small decode batches), one single-token pass per token:
     * the GEMM decodes every weight to float whatever the token count, which cost eight Q6_K 2048x2048 products
     * 18 ms at 4 tokens against 1.3 ms for one (AVX-512, 2 threads), so one pass per token is cheaper up to
     * about 13 tokens there.
     */
    static final int FEW_TOKENS = 12;

    @Override
    public void prepare(Activations x) {
        int T = x.tokens();
        if (T > FEW_TOKENS) x.tokenMajor(Gemm.TILE);
        else if (T == 1) x.runOrder();
        else for (int t = 0; t < T; t++) x.token(t).runOrder(); // the single-token views, built before the team reads them
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens();
        if (T > FEW_TOKENS) {
            DecodedPanels.matmul(source, cols, x.tokenMajor(Gemm.TILE), T, y, yStride, yOff, r0, r1);
            return;
        }
        for (int t = 0; t < T; t++) matmulOne(T == 1 ? x : x.token(t), y, yOff + t * yStride, r0, r1);
    }

    private void matmulOne(Activations x, float[] y, int yOff, int r0, int r1) {
        float[] xs = x.runOrder(), lanes = new float[8];
        for (int r = r0; r < r1; r++) y[yOff + r] = dotRow((long) r * runs * RUN, xs, lanes);
    }

    /** Row at p against x in {@link Activations#runOrder} form; affine runs also take the runs' activation sums, after the values. */
    private float dotRow(long p, float[] x, float[] lanes) {
        FloatVector acc = FloatVector.zero(F8), acc2 = acc;
        float min = 0;
        for (int c = 0; c < runs; c++, p += RUN) {
            IntVector w = IntVector.fromMemorySegment(I8, data, p, LE);
            FloatVector s = FloatVector.broadcast(F8, data.get(Layouts.F32, p + 32));
            if (affine) {
                min = Math.fma(data.get(Layouts.F32, p + 36), x[cols + c], min);
            } else {
                s = s.blend(data.get(Layouts.F32, p + 36), UPPER);
            }
            int xc = 32 * c;
            // byte k sign-extended: shifted to the top, then arithmetically back down
            FloatVector t = bytes(w, 24).mul(FloatVector.fromArray(F8, x, xc));
            t = bytes(w, 16).fma(FloatVector.fromArray(F8, x, xc + 8), t);
            FloatVector u = bytes(w, 8).mul(FloatVector.fromArray(F8, x, xc + 16));
            u = ((FloatVector) w.lanewise(VectorOperators.ASHR, 24).convertShape(VectorOperators.I2F, F8, 0))
                    .fma(FloatVector.fromArray(F8, x, xc + 24), u);
            acc = t.fma(s, acc);
            acc2 = u.fma(s, acc2);
        }
        acc.add(acc2).intoArray(lanes, 0);
        return VectorMath.sumLanes(lanes, 0, 8) - min;
    }

    private static FloatVector bytes(IntVector w, int up) {
        return (FloatVector) w.lanewise(VectorOperators.LSHL, up).lanewise(VectorOperators.ASHR, 24).convertShape(VectorOperators.I2F, F8, 0);
    }

    /** Rows [r, r + n), columns [k0, k1) (multiples of 32) as float32, for the GEMM. */
    private void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        decode(r, n, k0, k1, dst, 0, stride);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int off, int stride) {
        byte[] run = new byte[32];
        for (int i = 0; i < n; i++) {
            long p = ((long) (r + i) * runs + k0 / 32) * RUN;
            int o = off + i * stride;
            for (int c = k0; c < k1; c += 32, p += RUN, o += 32) {
                // through an array: C2 vectorizes these loops, and a byte at a time from the segment ran 3x slower
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, p, run, 0, 32);
                float sa = data.get(Layouts.F32, p + 32), sb = data.get(Layouts.F32, p + 36);
                if (affine) {
                    for (int v = 0; v < 32; v++) dst[o + v] = sa * run[v] - sb;
                } else {
                    for (int v = 0; v < 16; v++) dst[o + v] = sa * run[v];
                    for (int v = 16; v < 32; v++) dst[o + v] = sb * run[v];
                }
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        decode(r, 1, 0, cols, out, off, cols);
    }

    /** The ggml size, as in the file and in llama.cpp's model size. */
    @Override
    public long bytes() {
        return (long) rows * (cols / type.blockSize) * type.blockBytes;
    }
}
