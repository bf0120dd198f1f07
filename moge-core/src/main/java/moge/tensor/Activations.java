package moge.tensor;

import java.util.Arrays;
import java.util.function.IntBinaryOperator;

/**
 * The input of a matrix product: T rows of {@code cols} floats, plus the derived forms that kernels read
 * (bf16 even/odd order, tiles of tokens for the matrix-matrix kernel, values rounded to ggml's Q8_0 grid).
 * A derived form is built once per input, before the row range is split over the team, and then shared by
 * every matrix that reads the same input; the token-major tiles of a long prompt are built by the team
 * ({@link #team}), the rest on the calling thread.
 */
public final class Activations {
    private float[] data;
    private int tokens;
    private int cols;
    private int offset;

    private final Form plainTiles = new Form(), q8Tiles = new Form(), bf16Groups = new Form(), f32Groups = new Form(),
            fours = new Form(), runOrder = new Form();

    /** The Q4_0 decode form of token 0 (see {@link #q8Lanes}). */
    private final Q8Lanes q8Lanes = new Q8Lanes();
    /** The Q5_K decode form of token 0: the same on half the budget (see {@link #q5Lanes}). */
    private final Q8Lanes q5Lanes = new Q8Lanes(Q8Lanes.SUM5, 16);
    /** The Q3_K decode form of token 0: signed codes, no offset, on twice Q4_0's budget (see {@link #q3Lanes}). */
    private final Q8Lanes q3Lanes = new Q8Lanes(Q8Lanes.SUM3, 0);
    /** The Q6_K decode form of token 0 (see {@link #q6Lanes}). */
    private final Q8Lanes q6Lanes = Q8Lanes.sixBit();

    /** All tokens quantized for Q4_0's long-prompt kernel (see {@link #shortTokens}). */
    private final ShortGemm.Tokens shortTokens = new ShortGemm.Tokens();

    /** Q8_0's integer form of all tokens (see {@link #q8Ints}). */
    private final Q8Ints q8Ints = new Q8Ints();

    private float[] q8Grid = new float[0];
    private boolean q8Valid;
    /** llama.cpp's Q8_0 blocks of the values (see {@link #q8Slices}); built with {@link #q8Grid}. */
    private float[] q8Slices = new float[0], q8Scales = new float[0];

    /** Each token as an input of its own (see {@link #token}). */
    private Activations[] single = new Activations[0];
    private boolean singleValid;

    /**
     * The team {@link #tokenMajor} splits its tiles over (set by {@link Kernels} before a product): on the
     * calling thread alone, a 512-token prompt's transposes were 4% of a pp512 pass's wall time, the other core
     * waiting. Null: the calling thread alone.
     */
    Parallel team;

    /** One derived form, cached until the input changes. */
    private static final class Form {
        float[] v = new float[0];
        int tile;
        boolean valid;
    }

    public Activations set(float[] data, int offset, int tokens, int cols) {
        this.data = data;
        this.offset = offset;
        this.tokens = tokens;
        this.cols = cols;
        invalidate();
        return this;
    }

    public Activations set(float[] data, int tokens, int cols) {
        return set(data, 0, tokens, cols);
    }

    public float[] data() {
        return data;
    }

    public int offset() {
        return offset;
    }

    public int tokens() {
        return tokens;
    }

    public int cols() {
        return cols;
    }

    /** Call after changing data in place. */
    public void invalidate() {
        singleValid = false;
        bf16Groups.valid = false;
        f32Groups.valid = false;
        fours.valid = false;
        runOrder.valid = false;
        q8Valid = false;
        plainTiles.valid = false;
        q8Tiles.valid = false;
        q8Lanes.valid = false;
        q5Lanes.valid = false;
        q3Lanes.valid = false;
        q6Lanes.valid = false;
        q8Ints.valid = false;
        shortTokens.valid = false;
    }

    /**
     * Token t alone, as an input of its own with its own cached derived forms: kernels whose matrix-matrix
     * path costs more than a few single-token passes run a few tokens this way. Built on first use after a
     * change, so call it from {@code prepare} (on the calling thread) before the team reads it.
     */
    public Activations token(int t) {
        if (!singleValid) {
            if (single.length < tokens) single = Arrays.copyOf(single, tokens);
            for (int i = 0; i < tokens; i++) {
                if (single[i] == null) single[i] = new Activations();
                single[i].set(data, offset + i * cols, 1, cols);
            }
            singleValid = true;
        }
        return single[t];
    }

    /**
     * The tokens in the groups of the few-token tiles ({@link FewTokens#group}), each group's tokens interleaved
     * chunk by chunk so that a tile reads all of them from one index: chunk k of token j of the group of n
     * tokens that starts at token g is at {@code g * cols + k * chunk * n + j * chunk}, and the values past the
     * last whole chunk follow the group's chunks, token after token. Each bf16 chunk ({@link FewTokens#BF16_CHUNK}
     * values) holds its even-indexed values, then its odd-indexed ones, matching how a bf16 pair packed in one
     * int splits into two float lanes. One token is a group of its own: the single-token kernel reads this too.
     */
    public float[] groupedBf16() {
        return grouped(bf16Groups, data, offset, FewTokens.BF16_CHUNK, true, FewTokens::group);
    }

    /** As {@link #groupedBf16}, for float32 weights: chunks of one vector, values in their natural order. */
    public float[] groupedF32() {
        return grouped(f32Groups, data, offset, FewTokens.L, false, FewTokens::group);
    }

    /**
     * As {@link #groupedF32} for the integers of {@link #q8Ints} (default grid), in groups of four tokens and the
     * last T % 4 one by one (Q8_0's few-token kernel).
     */
    float[] groupedFours() {
        return grouped(fours, q8Ints(false).g, 0, FewTokens.L, false, (T, t) -> T - t >= 4 ? 4 : 1);
    }

    /** @param groupOf the size of the group that starts at token t of T */
    private float[] grouped(Form f, float[] data, int offset, int chunk, boolean evenOdd, IntBinaryOperator groupOf) {
        if (f.valid) return f.v;
        int n = tokens * cols;
        if (f.v.length < n) f.v = new float[n];
        float[] v = f.v;
        int full = cols - cols % chunk, tail = cols - full, half = chunk / 2;
        for (int g = 0; g < tokens; ) {
            int size = groupOf.applyAsInt(tokens, g), base = g * cols;
            for (int j = 0; j < size; j++) {
                int src = offset + (g + j) * cols;
                for (int c = 0; c < full; c += chunk) {
                    int dst = base + c * size + j * chunk;
                    if (!evenOdd) {
                        System.arraycopy(data, src + c, v, dst, chunk);
                        continue;
                    }
                    for (int i = 0; i < half; i++) {
                        v[dst + i] = data[src + c + 2 * i];
                        v[dst + half + i] = data[src + c + 2 * i + 1];
                    }
                }
                System.arraycopy(data, src + full, v, base + size * full + j * tail, tail);
            }
            g += size;
        }
        f.valid = true;
        return v;
    }

    /**
     * Token 0 in the order {@link ByteRunsMatrix}'s single-token kernel reads it, then each run's sum: per run of 32
     * values, value {@code 4j + k} at {@code 8k + j} (byte k of int lane j of the run's codes meets it), and after
     * the {@code cols} values, run c's sum at {@code cols + c}, its 8 lanes added in a fixed order (reduceLanes(ADD)
     * adds in one order interpreted and another compiled, and a token's result would change with the JIT's
     * progress). Built once per input: built per range of rows, the team's pieces of one 1536x6144 product
     * reordered its 6144 values fifteen times.
     */
    float[] runOrder() {
        Form f = runOrder;
        if (f.valid) return f.v;
        int runs = cols / 32;
        if (f.v.length < cols + runs) f.v = new float[cols + runs];
        float[] o = f.v;
        float[] lanes = new float[8];
        for (int c = 0; c < cols; c += 32) {
            int x = offset + c;
            for (int j = 0; j < 8; j++) {
                for (int k = 0; k < 4; k++) o[c + 8 * k + j] = data[x + 4 * j + k];
            }
            for (int i = 0; i < 8; i++) lanes[i] = (data[x + i] + data[x + 8 + i]) + (data[x + 16 + i] + data[x + 24 + i]);
            o[cols + c / 32] = VectorMath.sumLanes(lanes, 0, 8);
        }
        f.valid = true;
        return o;
    }

    /**
     * The tokens in tiles of {@code tile}, each tile column-major: value (t, c) at
     * {@code (t / tile) * cols * tile + c * tile + t % tile}, tokens past the end zero. A matrix-matrix kernel
     * broadcasts one weight against a vector of tokens read here in one load.
     */
    public float[] tokenMajor(int tile) {
        return tiles(plainTiles, tile, data, offset);
    }

    /** {@link #tokenMajor} of the values rounded to the Q8_0 grid ({@link #q8Grid}). */
    public float[] tokenMajorQ8(int tile) {
        return tiles(q8Tiles, tile, q8Grid(), 0);
    }

    private float[] tiles(Form f, int tile, float[] src, int srcOff) {
        if (f.valid && f.tile == tile) return f.v;
        int tiles = (tokens + tile - 1) / tile;
        int n = tiles * tile * cols;
        if (f.v.length < n) f.v = new float[n];
        float[] v = f.v;
        // a tile's transposes cost about what as many multiply-adds do
        long cost = (long) tokens * cols;
        if (team != null) team.forRange(tiles, 1, cost, (i0, i1) -> transpose(src, srcOff, v, tile, i0, i1));
        else transpose(src, srcOff, v, tile, 0, tiles);
        f.tile = tile;
        f.valid = true;
        return v;
    }

    /** Tiles [i0, i1) of {@link #tokenMajor}. */
    private void transpose(float[] src, int srcOff, float[] v, int tile, int i0, int i1) {
        for (int i = i0; i < i1; i++) {
            int base = i * cols * tile;
            int t0 = i * tile, tn = Math.min(tile, tokens - t0);
            if (tn < tile) Arrays.fill(v, base, base + cols * tile, 0f);
            for (int j = 0; j < tn; j++) {
                int s = srcOff + (t0 + j) * cols;
                for (int c = 0; c < cols; c++) v[base + c * tile + j] = src[s + c];
            }
        }
    }

    /** All tokens as {@link ShortGemm} reads them: tiles of 64 tokens, integers per block on {@link Q8Lanes}'s default grid. */
    ShortGemm.Tokens shortTokens() {
        if (!shortTokens.valid) shortTokens.build(data, offset, tokens, cols, team);
        return shortTokens;
    }

    /** All tokens as integers per block for Q8_0's kernels, on llama.cpp's grid or with float scales; see {@link Q8Ints}. */
    Q8Ints q8Ints(boolean llama) {
        if (!q8Ints.valid || q8Ints.llama != llama) q8Ints.build(data, offset, tokens, cols, llama);
        return q8Ints;
    }

    /**
     * The values Q8_0's one-token and few-token products multiply by default (Q5_0's and IQ4_NL's too): each
     * token's on {@link Q8Ints}'s grid, d * q, [t * cols + c]. {@code cols} must be a multiple of 32.
     */
    public float[] q8IntGrid() {
        Q8Ints a = q8Ints(false);
        float[] g = new float[tokens * cols];
        for (int i = 0; i < g.length; i++) g[i] = a.q[i] * a.d[i / 32];
        return g;
    }

    /** Token 0 as integers broadcast over short lanes for the Q4_0 decode kernel, on llama.cpp's grid or the finer default one; see {@link Q8Lanes}. */
    Q8Lanes q8Lanes(boolean llama) {
        if (!q8Lanes.valid || q8Lanes.llama != llama) q8Lanes.build(data, offset, cols, llama);
        return q8Lanes;
    }

    /**
     * Token 0 as integers for the Q5_K decode kernel ({@link Q5KTiles}): as {@link #q8Lanes} on the default grid,
     * with d = sum|x| / {@value Q8Lanes#SUM5} per block, so that the 16-bit sums of 5-bit codes stay exact.
     */
    Q8Lanes q5Lanes() {
        if (!q5Lanes.valid) q5Lanes.build(data, offset, cols, false);
        return q5Lanes;
    }

    /**
     * Token 0 as integers for the Q3_K decode kernel ({@link Q3KTiles}): d = sum|x| / {@value Q8Lanes#SUM3} per
     * block, so that the 16-bit group sums of signed 3-bit codes stay exact.
     */
    Q8Lanes q3Lanes() {
        if (!q3Lanes.valid) q3Lanes.build(data, offset, cols, false);
        return q3Lanes;
    }

    /**
     * Token 0 as integers for the Q6_K decode kernel ({@link Q6KTiles}), on llama.cpp's int8 grid or on one of its
     * own: d = (the largest sum|x| over the block's four runs of 8) / {@value Q8Lanes#SUM6}, so that a run's sum of
     * signed 6-bit codes times q stays a short. That step is about llama.cpp's amax / 127 on blocks of equal
     * magnitudes and finer on typical ones. Kept apart from Q4_K's form, which the same input feeds in the same layer.
     */
    Q8Lanes q6Lanes(boolean llama) {
        if (!q6Lanes.valid || q6Lanes.llama != llama) q6Lanes.build(data, offset, cols, llama);
        return q6Lanes;
    }

    /**
     * The values rounded to ggml's Q8_0 grid, token by token in blocks of 32, [t * cols + c]: what llama.cpp
     * multiplies Q8_0 and Q4_0 weights with (it quantizes the activations with quantize_row_q8_0: scale
     * d = max|x| / 127 stored as fp16, q = round-to-nearest-even(x * 127 / max|x|)). Here each value becomes
     * d * q, which is exact in float, so the float kernels then compute what llama.cpp's integer dot products
     * compute, up to the order of the float additions. {@code cols} must be a multiple of 32.
     */
    public float[] q8Grid() {
        if (q8Valid) return q8Grid;
        int n = tokens * cols, nb = cols / 32;
        if (q8Grid.length < n) {
            q8Grid = new float[n];
            q8Slices = new float[n];
        }
        if (q8Scales.length < tokens * nb) q8Scales = new float[tokens * nb];
        for (int t = 0; t < tokens; t++) {
            for (int b = 0; b < nb; b++) {
                int src = offset + t * cols + b * 32, dst = t * cols + b * 32;
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[src + i]));
                float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
                float id = amax != 0 ? 127f / amax : 0f;
                q8Scales[t * nb + b] = d;
                for (int i = 0; i < 32; i++) {
                    float q = (float) Math.rint(data[src + i] * id);
                    q8Grid[dst + i] = d * q;
                    q8Slices[dst + (i % 4) * 8 + i / 4] = q;
                }
            }
        }
        q8Valid = true;
        return q8Grid;
    }

    /**
     * The integers of {@link #q8Grid} (values / scale), each block of 32 as four slices of 8: slice k holds
     * value 4m + k at position m, so that slice k lines up with byte k of the block read as 8 ints, the way
     * llama.cpp's AVX2 dot product sums a block (lane m = values 4m .. 4m+3). Valid after {@link #q8Grid}.
     */
    float[] q8Slices() {
        q8Grid();
        return q8Slices;
    }

    /** The fp16-exact block scales of {@link #q8Grid}, [t * cols / 32 + b]. */
    float[] q8Scales() {
        q8Grid();
        return q8Scales;
    }
}
