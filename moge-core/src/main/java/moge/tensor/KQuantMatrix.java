package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * ggml's 256-value super-block formats (Q4_K, Q6_K), read where they lie: each kernel decodes one
 * super-block at a time to float32 with vector code (into L1) and multiplies from there. These formats
 * carry mixed-precision files' smaller tensors, so they favour simplicity over a repacked layout.
 */
abstract class KQuantMatrix extends Matrix {
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final int L = FS.length();
    static final int QK = 256;

    private final DType type;
    private final Gemm.Source source = this::decode;
    private final int nb;

    KQuantMatrix(String name, DType type, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
        this.type = type;
        this.nb = cols / QK;
    }

    @Override
    public DType type() {
        return type;
    }

    /** Decodes the super-block at byte {@code p} into dst[o .. o + 256). */
    abstract void decodeBlock(long p, float[] dst, int o);

    private long block(int r, int b) {
        return ((long) r * nb + b) * type.blockBytes;
    }

    @Override
    public void prepare(Activations x) {
        if (x.tokens() > 1) x.tokenMajor(Gemm.TILE);
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        if (x.tokens() > 1) {
            DecodedPanels.matmul(source, cols, x.tokenMajor(Gemm.TILE), x.tokens(), y, yStride, yOff, r0, r1);
            return;
        }
        float[] xs = x.data(), w = new float[cols], lanes = new float[L];
        int xo = x.offset();
        float[] ordered = orderedInput(xs, xo);
        if (ordered != null) {
            xs = ordered;
            xo = 0;
        }
        for (int r = r0; r < r1; r++) y[yOff + r] = dotRow(block(r, 0), nb, xs, xo, w, lanes);
    }

    /** The activations in the order {@link #dotRow} reads them, or null for their own order (the default). */
    float[] orderedInput(float[] x, int xo) {
        return null;
    }

    /**
     * The dot product of the row whose {@code nb} super-blocks start at byte {@code p} with x: by default the
     * whole row decoded into {@code w} first, then one vector pass (no vector stays live across the decode calls).
     */
    float dotRow(long p, int nb, float[] x, int xo, float[] w, float[] lanes) {
        for (int b = 0; b < nb; b++) decodeBlock(p + (long) b * type.blockBytes, w, b * QK);
        return dot(w, x, xo, cols, lanes);
    }

    static float dot(float[] w, float[] x, int xo, int n, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FS), a1 = a0;
        for (int i = 0; i < n; i += 2 * L) {
            a0 = FloatVector.fromArray(FS, w, i).fma(FloatVector.fromArray(FS, x, xo + i), a0);
            a1 = FloatVector.fromArray(FS, w, i + L).fma(FloatVector.fromArray(FS, x, xo + i + L), a1);
        }
        a0.add(a1).intoArray(lanes, 0);
        return VectorMath.sumLanes(lanes, 0, L);
    }

    private void decode(int r, int n, int k0, int k1, float[] dst, int stride) {
        for (int i = 0; i < n; i++) {
            for (int c = k0; c < k1; c += QK) decodeBlock(block(r + i, c / QK), dst, i * stride + c - k0);
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        GgmlQuants.dequantize(type, data, block(r, 0), out, off, cols);
    }
}
