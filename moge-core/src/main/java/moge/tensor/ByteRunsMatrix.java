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
 * Weights held as runs of 32 int8 codes, each run followed by two float32 slots (10 bits a weight): IQ4_XS
 * ({@link ScaledRunsRepack}) with a scale per 16 values, Q4_1 and Q5_1 ({@link AffineBlocksRepack}) with a scale and a
 * min. Each value is one shift pair away from an int, as in Q8_0's kernel. Q6_K ran here until 2026-12-02 (its codes
 * less 32 and d * sc per 16 values), when it moved to 16-bit tiles ({@link Q6KTiles}); Q5_K and Q3_K before it.
 * <p>
 * The single-token kernel reads 32 bytes as 8 ints, so byte k of int lane j is value 4j + k; the activations are
 * reordered once per input to match ({@link Activations#runOrder}), and lanes 0..3 (values 0..15) take the first scale,
 * lanes 4..7 the second. A few tokens take that kernel one at a time, more the panel GEMM over rows decoded to float.
 * Rows of many columns read their float activations (4 bytes a column) from the second-level cache for every row:
 * Q6_K's 1536x6144 products ran at half the speed per weight of 6144x1536 ones here.
 * <p>
 * Runs can also be affine ({@link #affine}): codes q in 0..31 as they are, then a scale and a min in the two float
 * slots, a value (scale * q) - min, and a dot product subtracts each run's min times the run's sum of activations,
 * the sums taken once per input. Q5_K's runs with mins kept in an array of their own instead (a second stream, 11
 * bits a weight) ran at 17.4 GFLOP/s against 20.8 ({@code KernelBench Q5_K 2048 2048 32 2 1}; Q6_K 21.7).
 */
final class ByteRunsMatrix extends Matrix {
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorMask<Float> UPPER = VectorMask.fromLong(F8, 0xF0);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes per run of 32 values: the codes, then two float scales. */
    static final int RUN = 40;
    private final Gemm.Source source = this::decode;
    private final int runs;
    private final DType type;
    /** Q4_1, Q5_1: a run's second float is not the scale of its upper half but a min subtracted from all 32 values. */
    private final boolean affine;

    ByteRunsMatrix(String name, DType type, int rows, int cols, MemorySegment packed) {
        super(name, rows, cols, packed);
        this.runs = cols / 32;
        this.type = type;
        this.affine = type == DType.Q4_1 || type == DType.Q5_1;
    }

    @Override
    public DType type() {
        return type;
    }

    /** Turns row {@code row}'s ggml blocks ({@code src}) into its runs ({@code dst}, every byte written). */
    interface RowRuns {
        void convert(int row, byte[] src, byte[] dst);
    }

    /** A {@code type} matrix whose ggml rows {@code f} turns into runs; rows are independent, so runs of them go to every core. */
    static ByteRunsMatrix fromRows(String name, DType type, int rows, int cols, MemorySegment blocks, RowRuns f) {
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
        return new ByteRunsMatrix(name, type, rows, cols, out);
    }

    /**
     * Up to this many tokens (speculative verification, small decode batches), one single-token pass per token:
     * the GEMM decodes every weight to float whatever the token count, which cost eight 2048x2048 products (Q6_K,
     * when it ran here) 18 ms at 4 tokens against 1.3 ms for one (AVX-512, 2 threads), so one pass per token is
     * cheaper up to about 13 tokens there.
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
