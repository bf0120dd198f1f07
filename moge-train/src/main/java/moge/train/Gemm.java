package moge.train;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import moge.tensor.Parallel;

/**
 * float32 matrix products for training, row-major with PyTorch's {@code [out, in]} weight layout. Everything
 * reduces to one register-blocked kernel C (+)= A·B vectorised along the columns of B; the three products of a
 * linear layer (forward, input gradient, weight gradient) get there with a cheap transpose of the smaller
 * operand. Every output element is summed by one thread in the same order whatever the team size, so training
 * is bit-reproducible across thread counts. Not thread-safe (it owns transpose scratch).
 */
public final class Gemm {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    private static final int KB = 256;

    private final Parallel team;
    private float[] scratch = new float[0];

    public Gemm(Parallel team) {
        this.team = team;
    }

    public Parallel team() {
        return team;
    }

    /** Y[n, o] = Σ_i X[n, i] · W[o, i] (+ Y when accumulate): the forward of a linear layer. */
    public void linear(float[] x, int xOff, int rows, int in, float[] w, int wOff, int out, float[] y, int yOff, boolean accumulate) {
        float[] wt = scratch(in * out);
        transpose(w, wOff, out, in, wt);
        nn(rows, out, in, x, xOff, in, wt, 0, out, y, yOff, out, accumulate);
    }

    /** dX[n, i] (+)= Σ_o dY[n, o] · W[o, i]: the input gradient of a linear layer. */
    public void linearInputGrad(float[] dy, int dyOff, int rows, int out, float[] w, int wOff, int in, float[] dx, int dxOff,
                                boolean accumulate) {
        nn(rows, in, out, dy, dyOff, out, w, wOff, in, dx, dxOff, in, accumulate);
    }

    /** dW[o, i] += Σ_n dY[n, o] · X[n, i]: the weight gradient of a linear layer (always accumulates). */
    public void linearWeightGrad(float[] dy, int dyOff, int rows, int out, float[] x, int xOff, int in, float[] dw, int dwOff) {
        float[] dyt = scratch(rows * out);
        transpose(dy, dyOff, rows, out, dyt);
        nn(out, in, rows, dyt, 0, rows, x, xOff, in, dw, dwOff, in, true);
    }

    private float[] scratch(int n) {
        if (scratch.length < n) scratch = new float[Math.max(n, scratch.length * 3 / 2)];
        return scratch;
    }

    /** dst[c, r] = src[r, c] for a [rows, cols] block starting at srcOff. */
    public void transpose(float[] src, int srcOff, int rows, int cols, float[] dst) {
        final int tile = 32;
        team.forRange(cols, tile, (c0, c1) -> {
            for (int r0 = 0; r0 < rows; r0 += tile) {
                int r1 = Math.min(rows, r0 + tile);
                for (int c = c0; c < c1; c++) {
                    int d = c * rows;
                    for (int r = r0; r < r1; r++) dst[d + r] = src[srcOff + r * cols + c];
                }
            }
        });
    }

    /**
     * C[m, n] = Σ_k A[m, k] · B[k, n] (+ C when accumulate), for an M×K matrix A and K×N matrix B with the given
     * leading dimensions. Rows are split over the team when there are enough, otherwise columns.
     */
    public void nn(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc,
                   boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        if (K == 0) {
            if (!accumulate) for (int i = 0; i < M; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + N, 0f);
            return;
        }
        int threads = team.threads();
        if (M >= 8 * threads || N < 4 * L) {
            team.forRange(M, 4, (i0, i1) -> block(i0, i1, 0, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate));
        } else {
            team.forRange(N, 2 * L, (j0, j1) -> block(0, M, j0, j1, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate));
        }
    }

    /** Single-threaded product for callers already inside a team job. */
    public static void nnLocal(int M, int N, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
                               int ldc, boolean accumulate) {
        block(0, M, 0, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
    }

    private static void block(int i0, int i1, int j0, int j1, int K, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc, boolean accumulate) {
        // Zeroing first keeps one code path: vector values merged from two branches would be boxed by C2.
        if (!accumulate) for (int i = i0; i < i1; i++) java.util.Arrays.fill(c, cOff + i * ldc + j0, cOff + i * ldc + j1, 0f);
        // K is blocked so that the rows of B being read stay in cache across the tiles of C.
        for (int k0 = 0; k0 < K; k0 += KB) {
            int k1 = Math.min(K, k0 + KB);
            int i = i0;
            for (; i + 4 <= i1; i += 4) rows4(i, j0, j1, k0, k1, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
            for (; i < i1; i++) rows1(i, j0, j1, k0, k1, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        }
    }

    /** Four rows of C, two vectors wide: 8 accumulators + 2 loads + 1 broadcast fit the 16 AVX2 registers. */
    private static void rows4(int i, int j0, int j1, int k0, int k1, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc) {
        int a0 = aOff + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        int c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        int j = j0;
        for (; j + 2 * L <= j1; j += 2 * L) {
            FloatVector s00 = load(c, c0 + j), s01 = load(c, c0 + j + L);
            FloatVector s10 = load(c, c1 + j), s11 = load(c, c1 + j + L);
            FloatVector s20 = load(c, c2 + j), s21 = load(c, c2 + j + L);
            FloatVector s30 = load(c, c3 + j), s31 = load(c, c3 + j + L);
            for (int k = k0; k < k1; k++) {
                int bo = bOff + k * ldb + j;
                FloatVector b0 = load(b, bo), b1 = load(b, bo + L);
                FloatVector x = FloatVector.broadcast(FS, a[a0 + k]);
                s00 = b0.fma(x, s00);
                s01 = b1.fma(x, s01);
                x = FloatVector.broadcast(FS, a[a1 + k]);
                s10 = b0.fma(x, s10);
                s11 = b1.fma(x, s11);
                x = FloatVector.broadcast(FS, a[a2 + k]);
                s20 = b0.fma(x, s20);
                s21 = b1.fma(x, s21);
                x = FloatVector.broadcast(FS, a[a3 + k]);
                s30 = b0.fma(x, s30);
                s31 = b1.fma(x, s31);
            }
            s00.intoArray(c, c0 + j); s01.intoArray(c, c0 + j + L);
            s10.intoArray(c, c1 + j); s11.intoArray(c, c1 + j + L);
            s20.intoArray(c, c2 + j); s21.intoArray(c, c2 + j + L);
            s30.intoArray(c, c3 + j); s31.intoArray(c, c3 + j + L);
        }
        for (; j + L <= j1; j += L) {
            FloatVector s0 = load(c, c0 + j), s1 = load(c, c1 + j), s2 = load(c, c2 + j), s3 = load(c, c3 + j);
            for (int k = k0; k < k1; k++) {
                FloatVector bv = load(b, bOff + k * ldb + j);
                s0 = bv.fma(FloatVector.broadcast(FS, a[a0 + k]), s0);
                s1 = bv.fma(FloatVector.broadcast(FS, a[a1 + k]), s1);
                s2 = bv.fma(FloatVector.broadcast(FS, a[a2 + k]), s2);
                s3 = bv.fma(FloatVector.broadcast(FS, a[a3 + k]), s3);
            }
            s0.intoArray(c, c0 + j); s1.intoArray(c, c1 + j); s2.intoArray(c, c2 + j); s3.intoArray(c, c3 + j);
        }
        if (j < j1) {
            for (int r = 0; r < 4; r++) scalarTail(i + r, j, j1, k0, k1, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        }
    }

    private static void rows1(int i, int j0, int j1, int k0, int k1, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc) {
        int ar = aOff + i * lda, cr = cOff + i * ldc;
        int j = j0;
        for (; j + 2 * L <= j1; j += 2 * L) {
            FloatVector s0 = load(c, cr + j), s1 = load(c, cr + j + L);
            for (int k = k0; k < k1; k++) {
                int bo = bOff + k * ldb + j;
                FloatVector x = FloatVector.broadcast(FS, a[ar + k]);
                s0 = load(b, bo).fma(x, s0);
                s1 = load(b, bo + L).fma(x, s1);
            }
            s0.intoArray(c, cr + j); s1.intoArray(c, cr + j + L);
        }
        for (; j + L <= j1; j += L) {
            FloatVector s = load(c, cr + j);
            for (int k = k0; k < k1; k++) s = load(b, bOff + k * ldb + j).fma(FloatVector.broadcast(FS, a[ar + k]), s);
            s.intoArray(c, cr + j);
        }
        if (j < j1) scalarTail(i, j, j1, k0, k1, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
    }

    /** Columns left over after whole vectors; Math.fma keeps the rounding of the vector lanes. */
    private static void scalarTail(int i, int j0, int j1, int k0, int k1, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                   float[] c, int cOff, int ldc) {
        int ar = aOff + i * lda, cr = cOff + i * ldc;
        for (int j = j0; j < j1; j++) {
            float s = c[cr + j];
            for (int k = k0; k < k1; k++) s = Math.fma(b[bOff + k * ldb + j], a[ar + k], s);
            c[cr + j] = s;
        }
    }

    private static FloatVector load(float[] x, int off) {
        return FloatVector.fromArray(FS, x, off);
    }
}
