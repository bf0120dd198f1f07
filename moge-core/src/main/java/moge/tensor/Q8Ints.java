package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Tokens' activations as integers per block of 32, the form Q8_0's kernels read (also Q5_0 and IQ4_NL, which
 * load as Q8_0): x = d * q, q an integer, one float d per block.
 * <p>
 * Why integers: the one-token kernel multiplies int8 weights by q in 16-bit lanes, 2L weights per instruction,
 * instead of widening every weight to a float (three shifts, two multiplies and an add per 4L weights against
 * a shift pair and a conversion per L: {@link Q8Quads#ints}). It adds the products of two values in one 16-bit
 * lane, values i and i + 8 of the block ({@link #paired}), so those two must satisfy 128 (|q_i| + |q_{i+8}|)
 * <= 32767. The default grid spends exactly that: d = max over the block's pairs of (|x_i| + |x_{i+8}|) / 254
 * (rounding adds at most 1 to a pair). That is never coarser than llama.cpp's int8 grid (d = max|x| / 127,
 * {@code llama}, with d rounded to fp16 as llama.cpp stores it, then d * q is {@link Activations#q8Grid}'s
 * value) and finer when a block's largest values are not paired. The float kernels (a few tokens,
 * rows outside quads, row tails) multiply the weights by q as floats, integers, so every block's partial sums are
 * exact in both and each row comes out bit for bit the same on every path.
 * <p>
 * Per token t: {@code q[t * cols + c]} (integers as floats), {@code d[t * cols / 32 + b]}; the same integers in
 * the kernels' order {@code g} (within each whole group of {@link Q8_0Matrix#G} values, slice k (L values from
 * kL) holds the values that byte k of the weights' int lanes does, {@link Q8Interleave#valueOf}; the tail in
 * plain order); and for the one-token kernel, short lane 2j + h of group g (h = 0, 1) pairs with weight bytes 2h
 * (in {@code lo}) and 2h + 1 (in {@code hi}) of int lane j.
 */
final class Q8Ints {
    /** A pair's budget of |q| before rounding: 128 * (254 + 1) fits a short. */
    static final float PAIR = 254f;

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;

    /** Values i and i + PARTNER of a block share a 16-bit lane (for i % 16 < 8). */
    static final int PARTNER = 8;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private final float[] lanes = new float[FS.length()];
    float[] q = new float[0];
    /** q in the kernels' order; q itself at 256 bits, where that order is the plain one. */
    float[] g = new float[0];
    private float[] ordered = new float[0];
    float[] d = new float[0];
    short[] lo = new short[0], hi = new short[0];
    boolean valid;
    boolean llama;

    /** Builds the form of {@code tokens} rows of {@code cols} values at src[off ..]; cols a multiple of 32. */
    void build(float[] src, int off, int tokens, int cols, boolean llama) {
        int nb = cols / 32, n = tokens * cols;
        if (q.length < n) q = new float[n];
        if (d.length < tokens * nb) d = new float[tokens * nb];
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < nb; b++) {
                int s = off + t * cols + b * 32, o = t * cols + b * 32;
                float id;
                if (llama) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(src[s + i]));
                    id = amax != 0 ? 127f / amax : 0f;
                    d[t * nb + b] = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
                } else {
                    float pmax = pairMax(src, s);
                    id = PAIR / pmax;
                    // all zeros, or so small (below ~1e-36) that 254 / pmax overflows: the block counts as zeros
                    if (!(id < Float.POSITIVE_INFINITY)) id = 0f;
                    d[t * nb + b] = id == 0f ? 0f : pmax / PAIR;
                    // a NaN or an infinity: q all 0 and d NaN, so the products come out NaN as float ones would
                    if (!Float.isFinite(pmax)) {
                        id = 0f;
                        d[t * nb + b] = Float.NaN;
                    }
                }
                rounded(src, s, id, o);
            }
        }
        g = Q8_0Matrix.L == 16 ? inKernelOrder(tokens, cols) : q;
        if (Q8_0Matrix.FAST) interleave(tokens, cols);
        this.llama = llama;
        valid = true;
    }

    // The steps below run on the calling thread between two products, with the team waiting: in vectors they
    // are several times faster than loops over the values, which were 3.3% of a Q8_0 decode's samples
    // (BENCHMARKS section 2). Each gives exactly the values of the loop it replaced.

    /** max over the block's pairs at src[s ..] of |x_i| + |x_(i+8)|, NaN if any value is NaN (as Math.max). */
    private float pairMax(float[] src, int s) {
        if (!Q8_0Matrix.FAST) {
            float pmax = 0;
            for (int i = 0; i < 32; i++) if (paired(i)) pmax = Math.max(pmax, Math.abs(src[s + i]) + Math.abs(src[s + i + PARTNER]));
            return pmax;
        }
        FloatVector m = FloatVector.fromArray(F8, src, s).abs().add(FloatVector.fromArray(F8, src, s + 8).abs());
        m = m.max(FloatVector.fromArray(F8, src, s + 16).abs().add(FloatVector.fromArray(F8, src, s + 24).abs()));
        m.intoArray(lanes, 0);
        float pmax = 0;
        for (int i = 0; i < 8; i++) pmax = Math.max(pmax, lanes[i]);
        return pmax;
    }

    /**
     * q[o + i] = rint(src[s + i] * id) for the block's 32 values: the sum with 1.5 * 2^23 rounds (|x * id| <= 255),
     * and the product's sign bit is put back so that values rounding to zero keep rint's -0.0.
     */
    private void rounded(float[] src, int s, float id, int o) {
        int L = Q8_0Matrix.L;
        if (!Q8_0Matrix.FAST) {
            for (int i = 0; i < 32; i++) q[o + i] = (float) Math.rint(src[s + i] * id);
            return;
        }
        for (int k = 0; k < 32 / L; k++) {
            FloatVector v = FloatVector.fromArray(FS, src, s + k * L).mul(id);
            IntVector sign = v.reinterpretAsInts().and(Integer.MIN_VALUE);
            v.add(Q8Lanes.ROUND).sub(Q8Lanes.ROUND).reinterpretAsInts().or(sign).reinterpretAsFloats().intoArray(q, o + k * L);
        }
    }

    /** g from q at 512 bits: slice k of a group is the 8 values from 8k of its first block, then of its second. */
    private float[] inKernelOrder(int tokens, int cols) {
        int n = tokens * cols, G = Q8_0Matrix.G, full = cols / G * G;
        if (ordered.length < n) ordered = new float[n];
        float[] out = ordered;
        for (int t = 0; t < tokens; t++) {
            int o = t * cols;
            for (int c = 0; c < full; c += G) {
                for (int k = 0; k < 4; k++) {
                    System.arraycopy(q, o + c + 8 * k, out, o + c + 16 * k, 8);
                    System.arraycopy(q, o + c + 32 + 8 * k, out, o + c + 16 * k + 8, 8);
                }
            }
            System.arraycopy(q, o + full, out, o + full, cols - full);
        }
        return out;
    }

    private void interleave(int tokens, int cols) {
        int L = Q8_0Matrix.L, G = Q8_0Matrix.G, groups = cols / G, per = groups * 2 * L;
        if (lo.length < tokens * per) {
            lo = new short[tokens * per];
            hi = new short[tokens * per];
        }
        for (int t = 0; t < tokens; t++) {
            for (int gi = 0; gi < groups; gi++) {
                int src = t * cols + gi * G, dst = t * per + gi * 2 * L;
                // int lane j of (a & 0xFFFF) | (b << 16) is short lanes 2j (a's value j) and 2j + 1 (b's)
                IntVector a = ints(src), b = ints(src + L), c = ints(src + 2 * L), e = ints(src + 3 * L);
                a.and(0xFFFF).or(c.lanewise(VectorOperators.LSHL, 16)).reinterpretAsShorts().intoArray(lo, dst);
                b.and(0xFFFF).or(e.lanewise(VectorOperators.LSHL, 16)).reinterpretAsShorts().intoArray(hi, dst);
            }
        }
    }

    /** L of the integers in g from position p, as ints (Java's (int) of a float, so NaN gives 0 as (short) did). */
    private IntVector ints(int p) {
        return (IntVector) FloatVector.fromArray(FS, g, p).convert(VectorOperators.F2I, 0);
    }

    /** Whether value i of a block (0..31) shares a 16-bit lane with value i + 8: 0-7 with 8-15, 16-23 with 24-31. */
    static boolean paired(int i) {
        return i % (2 * PARTNER) < PARTNER;
    }

    /** Shorts of one token's groups in {@link #lo} and {@link #hi}. */
    static int perToken(int cols) {
        return cols / Q8_0Matrix.G * 2 * Q8_0Matrix.L;
    }
}
