package moge.tensor;

import java.lang.foreign.MemorySegment;

/**
 * What Q8_0 and Q4_0 (repacked at load) share: one token runs through the format's own decode kernel, many
 * tokens through the panel GEMM over decoded weights, and a few tokens through {@link #matmulFew} (by
 * default that many single-token passes), because the GEMM decodes whole weight panels to float, which a few
 * tokens do not repay. The activations may be rounded to the Q8_0 grid as llama.cpp does
 * ({@link #setActivationRounding}).
 */
abstract class RepackedBlockMatrix extends Matrix {
    private final int fewTokens;
    private final Gemm.Source source = this::decode;
    protected boolean roundActivations;

    /** @param fewTokens up to this many tokens, {@link #matmulFew} */
    RepackedBlockMatrix(String name, int rows, int cols, MemorySegment data, boolean roundActivations, int fewTokens) {
        super(name, rows, cols, data);
        this.roundActivations = roundActivations;
        this.fewTokens = fewTokens;
    }

    @Override
    public final void setActivationRounding(boolean on) {
        roundActivations = on;
    }

    @Override
    public final void prepare(Activations x) {
        int T = x.tokens();
        if (roundActivations && llamaOrder()) {
            x.q8Grid();
        } else if (T > 1 && T <= fewTokens()) {
            prepareFew(x);
        } else if (T > 1) {
            prepareMany(x);
        } else {
            prepareOne(x);
        }
    }

    @Override
    public final void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        int T = x.tokens();
        if (roundActivations && llamaOrder()) {
            for (int t = 0; t < T; t++) matmulLlama(x, t, y, yOff + t * yStride, r0, r1);
        } else if (T > 1 && T <= fewTokens()) {
            matmulFew(x, y, yStride, yOff, r0, r1);
        } else if (T > 1) {
            matmulMany(x, y, yStride, yOff, r0, r1);
        } else {
            matmulOne(x, y, yOff, r0, r1);
        }
    }

    /** Up to this many tokens (from 2), {@link #matmulFew}. */
    int fewTokens() {
        return fewTokens;
    }

    /** Builds what {@link #matmulMany} reads: by default the tiles of {@link Activations#tokenMajor}. */
    void prepareMany(Activations x) {
        if (roundActivations) x.tokenMajorQ8(Gemm.TILE); else x.tokenMajor(Gemm.TILE);
    }

    /** More than {@link #fewTokens} tokens: by default the panel GEMM ({@link #gemm}). */
    void matmulMany(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        gemm(roundActivations ? x.tokenMajorQ8(Gemm.TILE) : x.tokenMajor(Gemm.TILE), x.tokens(), y, yStride, yOff, r0, r1);
    }

    /** Many tokens, given in the tiles of {@link Activations#tokenMajor}: the panel GEMM over {@link #decode}. */
    void gemm(float[] xt, int T, float[] y, int yStride, int yOff, int r0, int r1) {
        DecodedPanels.matmul(source, cols, xt, T, y, yStride, yOff, r0, r1);
    }

    /**
     * Whether, with rounded activations, this format computes every dot product in llama.cpp's own order
     * ({@link #matmulLlama}), token by token, so that results match llama.cpp's bit for bit where the rest
     * of the forward pass does.
     */
    boolean llamaOrder() {
        return false;
    }

    /** y[yOff + r] = dot(row r, token t of x) in llama.cpp's order, for rows r in [r0, r1); see {@link #llamaOrder}. */
    void matmulLlama(Activations x, int t, float[] y, int yOff, int r0, int r1) {
        throw new UnsupportedOperationException();
    }

    /** Builds what {@link #matmulFew} reads: by default each token's single-token form. */
    void prepareFew(Activations x) {
        for (int t = 0; t < x.tokens(); t++) prepareOne(x.token(t));
    }

    /** A few tokens (2 up to fewTokens): by default one single-token pass per token. */
    void matmulFew(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        for (int t = 0; t < x.tokens(); t++) matmulOne(x.token(t), y, yOff + t * yStride, r0, r1);
    }

    /** Builds the single-token forms the decode kernel reads. */
    abstract void prepareOne(Activations x);

    /** y[yOff + r] = dot(row r, x) for the one token of x and rows r in [r0, r1). */
    abstract void matmulOne(Activations x, float[] y, int yOff, int r0, int r1);

    /** Rows [r, r + n), columns [k0, k1) as float32 for {@link Gemm}; k0 and k1 are multiples of 32. */
    abstract void decode(int r, int n, int k0, int k1, float[] dst, int stride);
}
