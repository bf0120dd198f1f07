package moge.model;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import moge.tensor.Parallel;
import moge.tensor.VectorMath;

/**
 * Causal grouped-query attention over the paged cache, a tile of queries at a time with an online softmax
 * (the flash-attention scheme), so that prefill costs matrix-multiply speed instead of one dot product and
 * one axpy per (query, key) pair.
 * <p>
 * A tile is up to {@link #QL} query vectors that share a KV head: the group's query heads of up to
 * QL / group consecutive tokens of one sequence. Vector lanes are queries: a score step broadcasts one key
 * value against the tile's queries, a value step broadcasts one value against the tile's probabilities, so
 * there are no horizontal sums. Keys go by blocks of {@link #KB}; per block the running maximum, the
 * running sum and the output are rescaled. Each lane sees the same operations in the same order whatever
 * else the tile holds, so a token's result does not depend on the tile it is in. A run of up to {@link #SINGLE_RUN} tokens (a decode step, a
 * speculative verification) cannot fill the lanes with queries (a group is 2-5 heads) and goes token by
 * token to {@link DecodeAttention} instead. The exponential is a polynomial built from IEEE operations only,
 * so interpreted and compiled code give the same bits.
 */
final class FlashAttention {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** Queries per tile: two vectors of lanes. */
    static final int QL = 2 * L;
    /** Keys per softmax block. */
    static final int KB = 16;
    private static final float MASKED = -1e30f;

    /** Runs of one sequence up to this many tokens go to {@link DecodeAttention} token by token. */
    static final int SINGLE_RUN = 16;

    private final ModelConfig c;
    private final Scratch[] scratch;
    private final DecodeAttention[] decode;
    // tokens of the current batch that go to DecodeAttention
    private int[] single = new int[0];
    private int nSingle;
    // tiles of the current batch: first token, token count, first head within the group, head count
    private int[] tileT0 = new int[0], tileNT = new int[0], tileH0 = new int[0], tileNH = new int[0];

    FlashAttention(ModelConfig c, int teamSize) {
        this.c = c;
        this.scratch = new Scratch[teamSize];
        for (int i = 0; i < teamSize; i++) scratch[i] = new Scratch(c.headDim());
        this.decode = new DecodeAttention[teamSize];
        for (int i = 0; i < teamSize; i++) decode[i] = new DecodeAttention(c.headDim(), c.heads(), c.heads() / c.kvHeads());
    }

    private static final class Scratch {
        final float[] qt, ot, sc, m, l, corr, pos;
        /** The current block's keys and values of one KV head, as floats, key jb at jb * headDim. */
        final float[] kb, vb;
        /** Where the current block's first key lies in the array the kernels read (0 in kb, vb). */
        int at;
        /** The layer's cache arrays: float32 ones, or float16 ones. */
        float[] k32, v32;
        short[] k16, v16;

        Scratch(int d) {
            kb = new float[KB * d];
            vb = new float[KB * d];
            qt = new float[d * QL];
            ot = new float[d * QL];
            sc = new float[KB * QL];
            m = new float[QL];
            l = new float[QL];
            corr = new float[QL];
            pos = new float[QL];
        }

        void source(KvCache cache, int layer) {
            k32 = cache.k != null ? cache.k[layer] : null;
            v32 = cache.v != null ? cache.v[layer] : null;
            k16 = cache.k16 != null ? cache.k16[layer] : null;
            v16 = cache.v16 != null ? cache.v16[layer] : null;
        }
    }

    /** out[t, h*d ..] = softmax(q_th . K_j / sqrt(d), j <= pos_t) . V_j for every token of the batch. */
    void attend(Parallel team, KvCache cache, int layer, Batch b, float[] q, float[] out) {
        int kvH = c.kvHeads(), group = c.heads() / kvH;
        int tiles = tile(b, group), singles = nSingle;
        long cost = 0;
        // weighted 4x against a matmul multiply-add (what INLINE_COST counts): per key a tile also pays the
        // softmax, the cache reads and its set-up (one layer, 16 heads of 128, 2 threads, one decode step: 17 keys
        // 11.7 us on the calling thread alone, 6.7 us shared; 33 keys 18.1 vs 9.7 us)
        for (int t = 0; t < b.size(); t++) cost += 8L * c.heads() * c.headDim() * (b.positions[t] + 1);
        for (Scratch sc : scratch) sc.source(cache, layer);
        int qDim = c.qDim();
        // a single token's KV heads in a few chunks, so that every member has work; many tokens take all at once
        int chunks = Math.min(kvH, Math.max(1, (2 * team.threads() + singles - 1) / Math.max(1, singles)));
        int per = (kvH + chunks - 1) / chunks, nc = (kvH + per - 1) / per;
        team.forEach(tiles * kvH + singles * nc, cost, (item, member) -> {
            if (item < tiles * kvH) {
                run(item / kvH, item % kvH, b, q, out, scratch[member]);
            } else {
                int i = item - tiles * kvH, t = single[i / nc], kh0 = i % nc * per;
                decode[member].attend(cache, layer, b.seqs[t], b.positions[t], kh0, Math.min(kvH, kh0 + per), q, out, t * qDim);
            }
        });
    }

    /**
     * Splits the batch: a sequence's run of up to {@link #SINGLE_RUN} tokens (a decode step, a speculative
     * verification, a short prompt chunk) goes token by token to {@link DecodeAttention}, so such a token gets
     * the same bits whatever else its run holds; longer runs go in tiles of QL / group tokens (or a head chunk).
     */
    private int tile(Batch b, int group) {
        int T = b.size();
        int perTile = Math.max(1, QL / group), headChunks = (group + QL - 1) / QL;
        int max = (T + 1) * headChunks;
        if (tileT0.length < max) {
            tileT0 = new int[max];
            tileNT = new int[max];
            tileH0 = new int[max];
            tileNH = new int[max];
        }
        if (single.length < T) single = new int[T];
        int n = 0;
        nSingle = 0;
        for (int t = 0; t < T; ) {
            int runEnd = t + 1;
            while (runEnd < T && b.seqs[runEnd] == b.seqs[t]) runEnd++;
            if (runEnd - t <= SINGLE_RUN) {
                while (t < runEnd) single[nSingle++] = t++;
                continue;
            }
            while (t < runEnd) {
                int e = Math.min(runEnd, t + perTile);
                for (int h = 0; h < group; h += QL) {
                    tileT0[n] = t;
                    tileNT[n] = e - t;
                    tileH0[n] = h;
                    tileNH[n] = Math.min(QL, group - h);
                    n++;
                }
                t = e;
            }
        }
        return n;
    }

    private void run(int tile, int kh, Batch b, float[] q, float[] out, Scratch s) {
        int d = c.headDim(), group = c.heads() / c.kvHeads(), qDim = c.qDim();
        int t0 = tileT0[tile], nt = tileNT[tile], h0 = tileH0[tile], nh = tileNH[tile];
        int lanes = nt * nh;
        KvSequence seq = b.seqs[t0];
        float scale = (float) (1.0 / Math.sqrt(d));
        int maxPos = 0;
        for (int tt = 0; tt < nt; tt++) maxPos = Math.max(maxPos, b.positions[t0 + tt]);
        // queries transposed (lane = tt * nh + hh) and pre-scaled; unused lanes are zero and see every key
        java.util.Arrays.fill(s.qt, 0f);
        for (int ln = 0; ln < QL; ln++) {
            if (ln < lanes) {
                int tt = ln / nh, hh = ln % nh;
                int qo = (t0 + tt) * qDim + (kh * group + h0 + hh) * d;
                for (int i = 0; i < d; i++) s.qt[i * QL + ln] = q[qo + i] * scale;
                s.pos[ln] = b.positions[t0 + tt];
            } else {
                s.pos[ln] = maxPos;
            }
            s.m[ln] = MASKED;
            s.l[ln] = 0f;
        }
        java.util.Arrays.fill(s.ot, 0f);
        for (int j0 = 0; j0 <= maxPos; j0 += KB) {
            int nk = Math.min(KB, maxPos + 1 - j0);
            // the block's keys: read where they lie when they lie in one run of a float32 cache (prefill: the
            // cache is in cache by then, and every tile would copy it again), else gathered into scratch
            int at = seq.offset(j0, kh);
            boolean run = seq.offset(j0 + nk - 1, kh) == at + (nk - 1) * d;
            boolean inPlace = s.k32 != null && run;
            float[] K = inPlace ? s.k32 : s.kb, V = inPlace ? s.v32 : s.vb;
            if (inPlace) {
                s.at = at;
            } else {
                gather(s, seq, j0, nk, kh, d, at, run);
                s.at = 0;
            }
            for (int j = 0; j < nk; j += 4) scores(s, K, Math.min(4, nk - j), j, d);
            softmaxBlock(s, nk, j0);
            values(s, V, nk, d);
        }
        for (int ln = 0; ln < lanes; ln++) {
            int tt = ln / nh, hh = ln % nh;
            int oo = (t0 + tt) * qDim + (kh * group + h0 + hh) * d;
            float inv = 1f / s.l[ln];
            for (int i = 0; i < d; i++) out[oo + i] = s.ot[i * QL + ln] * inv;
        }
    }

    /** sc[jb + k] = q . K_(jb + k), key jb + k of the block, for k < n (up to four keys), all lanes. */
    private static void scores(Scratch s, float[] K, int n, int jb, int d) {
        int k0 = key(s, jb, 0, n, d), k1 = key(s, jb, 1, n, d);
        int k2 = key(s, jb, 2, n, d), k3 = key(s, jb, 3, n, d);
        float[] qt = s.qt;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int i = 0; i < d; i++) {
            FloatVector qa = FloatVector.fromArray(FS, qt, i * QL), qb = FloatVector.fromArray(FS, qt, i * QL + L);
            FloatVector w = FloatVector.broadcast(FS, K[k0 + i]);
            a00 = w.fma(qa, a00);
            a01 = w.fma(qb, a01);
            w = FloatVector.broadcast(FS, K[k1 + i]);
            a10 = w.fma(qa, a10);
            a11 = w.fma(qb, a11);
            w = FloatVector.broadcast(FS, K[k2 + i]);
            a20 = w.fma(qa, a20);
            a21 = w.fma(qb, a21);
            w = FloatVector.broadcast(FS, K[k3 + i]);
            a30 = w.fma(qa, a30);
            a31 = w.fma(qb, a31);
        }
        float[] sc = s.sc;
        int o = jb * QL;
        a00.intoArray(sc, o);
        a01.intoArray(sc, o + L);
        if (n > 1) {
            a10.intoArray(sc, o + QL);
            a11.intoArray(sc, o + QL + L);
        }
        if (n > 2) {
            a20.intoArray(sc, o + 2 * QL);
            a21.intoArray(sc, o + 2 * QL + L);
        }
        if (n > 3) {
            a30.intoArray(sc, o + 3 * QL);
            a31.intoArray(sc, o + 3 * QL + L);
        }
    }

    /**
     * Masks keys past each lane's position, updates the running maximum and sum, and turns the block's scores
     * into probabilities (in place); {@link #values} rescales the output accumulated so far.
     */
    private void softmaxBlock(Scratch s, int nk, int j0) {
        float[] sc = s.sc;
        for (int v = 0; v < QL; v += L) {
            FloatVector pos = FloatVector.fromArray(FS, s.pos, v);
            FloatVector mOld = FloatVector.fromArray(FS, s.m, v), mNew = mOld;
            for (int j = 0; j < nk; j++) {
                FloatVector x = FloatVector.fromArray(FS, sc, j * QL + v);
                x = x.blend(MASKED, pos.lt(j0 + j));
                x.intoArray(sc, j * QL + v);
                mNew = mNew.max(x);
            }
            mNew.intoArray(s.m, v);
            mOld.sub(mNew).intoArray(s.corr, v);
            for (int j = 0; j < nk; j++) {
                FloatVector.fromArray(FS, sc, j * QL + v).sub(mNew).intoArray(sc, j * QL + v);
            }
        }
        VectorMath.exp(s.corr, 0, QL);
        VectorMath.exp(sc, 0, nk * QL);
        for (int v = 0; v < QL; v += L) {
            FloatVector pos = FloatVector.fromArray(FS, s.pos, v);
            FloatVector sum = FloatVector.zero(FS);
            for (int j = 0; j < nk; j++) {
                // masked keys count exactly zero
                FloatVector p = FloatVector.fromArray(FS, sc, j * QL + v).blend(0f, pos.lt(j0 + j));
                p.intoArray(sc, j * QL + v);
                sum = sum.add(p);
            }
            FloatVector corr = FloatVector.fromArray(FS, s.corr, v);
            FloatVector.fromArray(FS, s.l, v).fma(corr, sum).intoArray(s.l, v);
        }
    }

    /**
     * ot[i] = ot[i] * corr + sum over the block's nk keys of p_j * V_j[i]. Four output rows (dimensions) at a time
     * stay in registers while every key of the block passes, so the output is loaded and stored once per block
     * rather than once per four keys, and its rescaling costs no pass of its own. Each lane still sees the
     * rescale, then the keys in order.
     */
    private static void values(Scratch s, float[] V, int nk, int d) {
        float[] sc = s.sc, ot = s.ot;
        FloatVector ca = FloatVector.fromArray(FS, s.corr, 0), cb = FloatVector.fromArray(FS, s.corr, L);
        int i = 0;
        for (; i + 4 <= d; i += 4) {
            int o = i * QL;
            FloatVector a0 = FloatVector.fromArray(FS, ot, o).mul(ca), b0 = FloatVector.fromArray(FS, ot, o + L).mul(cb);
            FloatVector a1 = FloatVector.fromArray(FS, ot, o + QL).mul(ca), b1 = FloatVector.fromArray(FS, ot, o + QL + L).mul(cb);
            FloatVector a2 = FloatVector.fromArray(FS, ot, o + 2 * QL).mul(ca), b2 = FloatVector.fromArray(FS, ot, o + 2 * QL + L).mul(cb);
            FloatVector a3 = FloatVector.fromArray(FS, ot, o + 3 * QL).mul(ca), b3 = FloatVector.fromArray(FS, ot, o + 3 * QL + L).mul(cb);
            for (int j = 0, v = s.at + i; j < nk; j++, v += d) {
                FloatVector pa = FloatVector.fromArray(FS, sc, j * QL), pb = FloatVector.fromArray(FS, sc, j * QL + L);
                FloatVector w = FloatVector.broadcast(FS, V[v]);
                a0 = w.fma(pa, a0);
                b0 = w.fma(pb, b0);
                w = FloatVector.broadcast(FS, V[v + 1]);
                a1 = w.fma(pa, a1);
                b1 = w.fma(pb, b1);
                w = FloatVector.broadcast(FS, V[v + 2]);
                a2 = w.fma(pa, a2);
                b2 = w.fma(pb, b2);
                w = FloatVector.broadcast(FS, V[v + 3]);
                a3 = w.fma(pa, a3);
                b3 = w.fma(pb, b3);
            }
            a0.intoArray(ot, o);
            b0.intoArray(ot, o + L);
            a1.intoArray(ot, o + QL);
            b1.intoArray(ot, o + QL + L);
            a2.intoArray(ot, o + 2 * QL);
            b2.intoArray(ot, o + 2 * QL + L);
            a3.intoArray(ot, o + 3 * QL);
            b3.intoArray(ot, o + 3 * QL + L);
        }
        for (; i < d; i++) {
            int o = i * QL;
            FloatVector a = FloatVector.fromArray(FS, ot, o).mul(ca), b = FloatVector.fromArray(FS, ot, o + L).mul(cb);
            for (int j = 0, v = s.at + i; j < nk; j++, v += d) {
                FloatVector w = FloatVector.broadcast(FS, V[v]);
                a = w.fma(FloatVector.fromArray(FS, sc, j * QL), a);
                b = w.fma(FloatVector.fromArray(FS, sc, j * QL + L), b);
            }
            a.intoArray(ot, o);
            b.intoArray(ot, o + L);
        }
    }

    /** Where key (or value) jb + k of the block starts, k clamped to the block's last key n - 1. */
    private static int key(Scratch s, int jb, int k, int n, int d) {
        return s.at + (jb + Math.min(k, n - 1)) * d;
    }

    /**
     * Keys and values j0 .. j0 + nk - 1 of KV head {@code head} into s.kb, s.vb as floats; the first starts at
     * {@code from}, and {@code run} says whether all lie in one run after it. Within a cache block a
     * head's keys are contiguous ({@link KvCache#offset}), so a softmax block that is one cache block comes in one
     * sequential run; a float16 cache is widened once per key here, and a block split over cache blocks is
     * put together.
     */
    private static void gather(Scratch s, KvSequence seq, int j0, int nk, int head, int d, int from, boolean run) {
        for (int jb = 0; jb < nk; ) {
            int src = jb == 0 ? from : seq.offset(j0 + jb, head), n = run ? nk * d : d, dst = jb * d;
            if (s.k32 != null) {
                System.arraycopy(s.k32, src, s.kb, dst, n);
                System.arraycopy(s.v32, src, s.vb, dst, n);
            } else {
                short[] K = s.k16, V = s.v16;
                float[] kb = s.kb, vb = s.vb;
                for (int i = 0; i < n; i++) kb[dst + i] = Float.float16ToFloat(K[src + i]);
                for (int i = 0; i < n; i++) vb[dst + i] = Float.float16ToFloat(V[src + i]);
            }
            jb += n / d;
        }
    }
}
