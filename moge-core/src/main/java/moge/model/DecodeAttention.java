package moge.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import moge.tensor.VectorMath;

/**
 * Attention of one query token over its sequence's cached keys, for one KV head and its group of query
 * heads, with vector lanes along the head dimension. The tiles of {@link FlashAttention} put queries in the
 * lanes, which a decode step cannot fill (a group of 2-5 heads in 8 lanes): there each key element cost a
 * broadcast and an FMA for a quarter of a vector, and the block was first copied to scratch. Here a key row
 * is read in place as whole vectors against each head's query, so at depth the step is bound by reading the
 * cache, not by issuing instructions.
 * <p>
 * A score sums its lane partials in lane order, then the tail of the head dimension; the softmax runs online
 * over blocks of {@link #KB} keys with {@link VectorMath#exp}. Every operation is explicit IEEE arithmetic
 * in a fixed order, so a token gets the same bits alone, beside other tokens of its sequence, in any batch and
 * in any JIT tier; that is what speculative verification needs of the runs it sends here.
 */
final class DecodeAttention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** Keys per softmax block (scored eight at a time, eight accumulators). */
    static final int KB = 16;
    private static final float MASKED = -1e30f;

    private final int d, group;
    /** The queries (pre-scaled) and outputs of the heads in hand, head after head; a block's scores; exp buffer; lanes. */
    private final float[] q, o, s, e, lanes;
    /** Running maximum and sum per head. */
    private final float[] m, l;
    /** A float16 cache's keys and values of one block, widened: key k at k * d. */
    private final float[] kb, vb;
    /** Where each key of the current block starts in the array the kernels read. */
    private final int[] at = new int[KB];

    DecodeAttention(int headDim, int heads, int group) {
        this.d = headDim;
        this.group = group;
        q = new float[heads * d];
        o = new float[heads * d];
        s = new float[KB];
        e = new float[(KB + 1 + L - 1) / L * L];
        lanes = new float[8 * L];
        m = new float[heads];
        l = new float[heads];
        kb = new float[KB * d];
        vb = new float[KB * d];
    }

    /**
     * For the query heads of KV heads [kh0, kh1): out[h] = softmax(q_h . K_j / sqrt(d), j <= pos) . V_j, with
     * {@code query} and {@code out} holding one token's heads from offset {@code off} (head h at h * d).
     * Blocks go outermost and heads inside, so the cache is read in the order it lies (a cache block holds each
     * KV head's positions in turn): reading a head at a time across all blocks reached 11.5 GB/s from DRAM.
     */
    void attend(KvCache cache, int layer, KvSequence seq, int pos, int kh0, int kh1, float[] query, float[] out, int off) {
        float[] k32 = cache.k != null ? cache.k[layer] : null, v32 = cache.v != null ? cache.v[layer] : null;
        short[] k16 = cache.k16 != null ? cache.k16[layer] : null, v16 = cache.v16 != null ? cache.v16[layer] : null;
        float scale = (float) (1.0 / Math.sqrt(d));
        int base = off + kh0 * group * d, n0 = (kh1 - kh0) * group;
        for (int i = 0; i < n0 * d; i++) {
            q[i] = query[base + i] * scale;
            o[i] = 0f;
        }
        java.util.Arrays.fill(m, 0, n0, MASKED);
        java.util.Arrays.fill(l, 0, n0, 0f);
        for (int j0 = 0; j0 <= pos; j0 += KB) {
            int n = Math.min(KB, pos + 1 - j0);
            for (int kh = kh0; kh < kh1; kh++) {
                float[] K = k32, V = v32;
                for (int k = 0; k < KB; k++) at[k] = seq.offset(j0 + Math.min(k, n - 1), kh);
                if (k32 == null) { // widen the block once; the kernels then read floats
                    for (int k = 0; k < n; k++) {
                        for (int i = 0; i < d; i++) kb[k * d + i] = Float.float16ToFloat(k16[at[k] + i]);
                        for (int i = 0; i < d; i++) vb[k * d + i] = Float.float16ToFloat(v16[at[k] + i]);
                    }
                    for (int k = 0; k < KB; k++) at[k] = Math.min(k, n - 1) * d;
                    K = kb;
                    V = vb;
                }
                for (int g = 0; g < group; g++) {
                    int h = (kh - kh0) * group + g;
                    scores(K, h * d, 0);
                    if (n > 8) scores(K, h * d, 8);
                    values(V, n, h, softmax(h, n));
                }
            }
        }
        for (int h = 0; h < n0; h++) {
            float inv = 1f / l[h];
            for (int i = 0; i < d; i++) out[base + h * d + i] = o[h * d + i] * inv;
        }
    }

    /** s[k] = q[qo ..] . K[at[k] ..] for eight keys of the block from k = first (those past its end repeat its last). */
    private void scores(float[] K, int qo, int first) {
        int k0 = at[first], k1 = at[first + 1], k2 = at[first + 2], k3 = at[first + 3];
        int k4 = at[first + 4], k5 = at[first + 5], k6 = at[first + 6], k7 = at[first + 7];
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        int i = 0;
        for (; i + L <= d; i += L) {
            FloatVector qv = FloatVector.fromArray(FS, q, qo + i);
            a0 = FloatVector.fromArray(FS, K, k0 + i).fma(qv, a0);
            a1 = FloatVector.fromArray(FS, K, k1 + i).fma(qv, a1);
            a2 = FloatVector.fromArray(FS, K, k2 + i).fma(qv, a2);
            a3 = FloatVector.fromArray(FS, K, k3 + i).fma(qv, a3);
            a4 = FloatVector.fromArray(FS, K, k4 + i).fma(qv, a4);
            a5 = FloatVector.fromArray(FS, K, k5 + i).fma(qv, a5);
            a6 = FloatVector.fromArray(FS, K, k6 + i).fma(qv, a6);
            a7 = FloatVector.fromArray(FS, K, k7 + i).fma(qv, a7);
        }
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, L);
        a2.intoArray(lanes, 2 * L);
        a3.intoArray(lanes, 3 * L);
        a4.intoArray(lanes, 4 * L);
        a5.intoArray(lanes, 5 * L);
        a6.intoArray(lanes, 6 * L);
        a7.intoArray(lanes, 7 * L);
        for (int k = 0; k < 8; k++) {
            float sum = VectorMath.sumLanes(lanes, k * L, L);
            for (int t = i; t < d; t++) sum = Math.fma(q[qo + t], K[at[first + k] + t], sum);
            s[first + k] = sum;
        }
    }

    /**
     * Head h's block of n scores into probabilities (in place), its running maximum and sum updated;
     * returns the factor that rescales what the head's output holds so far.
     */
    private float softmax(int h, int n) {
        float mNew = m[h];
        for (int k = 0; k < n; k++) mNew = Math.max(mNew, s[k]);
        for (int k = 0; k < KB; k++) e[k] = k < n ? s[k] - mNew : MASKED;
        e[KB] = m[h] - mNew;
        for (int k = KB + 1; k < e.length; k++) e[k] = 0f;
        VectorMath.exp(e, 0, e.length);
        float sum = 0f;
        for (int k = 0; k < n; k++) sum += s[k] = e[k];
        float corr = e[KB];
        m[h] = mNew;
        l[h] = Math.fma(l[h], corr, sum);
        return corr;
    }

    /** o[h] = o[h] * corr + sum over the block's n keys, in key order, of p_k * V[at[k] ..]. */
    private void values(float[] V, int n, int h, float corr) {
        int oo = h * d, i = 0;
        FloatVector c = FloatVector.broadcast(FS, corr);
        for (; i + 8 * L <= d; i += 8 * L) {
            FloatVector o0 = FloatVector.fromArray(FS, o, oo + i).mul(c), o1 = FloatVector.fromArray(FS, o, oo + i + L).mul(c);
            FloatVector o2 = FloatVector.fromArray(FS, o, oo + i + 2 * L).mul(c), o3 = FloatVector.fromArray(FS, o, oo + i + 3 * L).mul(c);
            FloatVector o4 = FloatVector.fromArray(FS, o, oo + i + 4 * L).mul(c), o5 = FloatVector.fromArray(FS, o, oo + i + 5 * L).mul(c);
            FloatVector o6 = FloatVector.fromArray(FS, o, oo + i + 6 * L).mul(c), o7 = FloatVector.fromArray(FS, o, oo + i + 7 * L).mul(c);
            for (int k = 0; k < n; k++) {
                FloatVector p = FloatVector.broadcast(FS, s[k]);
                int v = at[k] + i;
                o0 = FloatVector.fromArray(FS, V, v).fma(p, o0);
                o1 = FloatVector.fromArray(FS, V, v + L).fma(p, o1);
                o2 = FloatVector.fromArray(FS, V, v + 2 * L).fma(p, o2);
                o3 = FloatVector.fromArray(FS, V, v + 3 * L).fma(p, o3);
                o4 = FloatVector.fromArray(FS, V, v + 4 * L).fma(p, o4);
                o5 = FloatVector.fromArray(FS, V, v + 5 * L).fma(p, o5);
                o6 = FloatVector.fromArray(FS, V, v + 6 * L).fma(p, o6);
                o7 = FloatVector.fromArray(FS, V, v + 7 * L).fma(p, o7);
            }
            o0.intoArray(o, oo + i);
            o1.intoArray(o, oo + i + L);
            o2.intoArray(o, oo + i + 2 * L);
            o3.intoArray(o, oo + i + 3 * L);
            o4.intoArray(o, oo + i + 4 * L);
            o5.intoArray(o, oo + i + 5 * L);
            o6.intoArray(o, oo + i + 6 * L);
            o7.intoArray(o, oo + i + 7 * L);
        }
        for (; i + L <= d; i += L) {
            FloatVector acc = FloatVector.fromArray(FS, o, oo + i).mul(c);
            for (int k = 0; k < n; k++) acc = FloatVector.fromArray(FS, V, at[k] + i).fma(FloatVector.broadcast(FS, s[k]), acc);
            acc.intoArray(o, oo + i);
        }
        for (; i < d; i++) {
            float acc = o[oo + i] * corr;
            for (int k = 0; k < n; k++) acc = Math.fma(V[at[k] + i], s[k], acc);
            o[oo + i] = acc;
        }
    }
}
