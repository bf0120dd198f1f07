package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * One token's activations in the form the Q4_0 kernels read: integers per block of 32 with a float scale.
 * The kernels hold one weight row per short lane and broadcast each integer to all {@link #LANES} lanes, so
 * each is stored twice in an int, which one 32-bit broadcast load spreads over a vector: per block b,
 * {@code pairs[b * 32 + p]} the integer at position p, {@code corrs[b]} 8 * sum(q) (the kernels multiply
 * codes, value + 8, and take this off), {@code d[b]} the scale. (A form with every integer already copied
 * to 16 lanes read the same in the decode kernel but took 16 times the cache: 64 KiB a token for 2048 columns.)
 * <p>
 * Two grids. llama.cpp's ({@code llama}): int8, d = max|x| / 127 rounded to fp16, exactly as its
 * quantize_row_q8_0 ({@link Activations#q8Grid} gives the same values as floats). The default one spends
 * the whole 16-bit budget of the kernel instead: a block's sum must satisfy 8 * sum|q| <= 32767, so d =
 * sum|x| / {@value #SUM}. That d is never coarser than llama.cpp's (sum|x| <= 32 max|x|) and is up to 32
 * times finer in blocks with one large value, which int8 activations flatten to zero around it. Q5_K's kernel
 * ({@link Q5KMatrix}) multiplies 5-bit codes (value + 16) and reads a form of its own on half that budget,
 * d = sum|x| / {@value #SUM5}, with 16 * sum(q) in {@code corrs}; Q3_K's ({@link Q3KMatrix}) signed 3-bit
 * codes allow twice Q4_0's, d = sum|x| / {@value #SUM3}, with no offset (corrs all 0).
 */
final class Q8Lanes {
    static final VectorSpecies<Short> SS = ShortVector.SPECIES_256;
    static final int LANES = SS.length();

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    /** Adding and taking off 1.5 * 2^23 rounds a float below 2^22 to the nearest integer, ties to even, as Math.rint. */
    static final float ROUND = 12582912f;
    /** sum|q| of a block: at most SUM + 16 after rounding, and 8 * 4080 fits a short. */
    static final float SUM = 4064f;
    /**
     * The budget of 5-bit codes ({@link Q5KTiles}): code - 16 spans -16..15, so 16 * sum|q| must fit a short;
     * sum|q| <= 2031 + 16 keeps 16 * sum(q) a short too, which the finishing pass reads as a number (with 2032
     * a block of equal values, each on a .5 tie rounded up to even, reaches 2048 and 16 * 2048 wraps).
     */
    static final float SUM5 = 2031f;
    /**
     * The budget of Q3_K's signed 3-bit codes ({@link Q3KTiles}): |code| <= 4 and no offset, so each 16-value
     * group needs 4 * sum|q| <= 32767. A group's sum|q| is at most the block's budget plus 8 (16 roundings of at
     * most .5, the other group all zeros), and 4 * (8183 + 8) fits; with 8184, 16 equal values and 16 zeros land
     * on x / d = 511.5, round to 512, and -4 * 16 * -512 wraps.
     */
    static final float SUM3 = 8183f;
    /**
     * The budget of Q6_K's signed 6-bit codes ({@link Q6KTiles}), whose kernel sums 8 columns at a time: |code| <= 32,
     * so each run of 8 needs 32 * sum|q| <= 32767. d = (the largest sum|x| over the block's four runs of 8) / 1019:
     * a run's sum|q| is then at most 1019 + 4 (eight roundings of at most .5), and 32 * 1023 fits.
     */
    static final float SUM6 = 1019f;

    /** The grid's budget (sum|q| per block before rounding) and the code offset the kernels take off (8 or 16). */
    private final float budget;
    final int offset;
    /** Whether the budget bounds each run of 8 values rather than the block ({@link #SUM6}). */
    private final boolean perEight;

    private final int[] ints = new int[32];
    private final float[] lanes = new float[8];
    int[] pairs = new int[0];
    int[] corrs = new int[0];
    /** Per 16-value group g (two a block), sum(q): what Q2_K's mins multiply ({@link Q2KMatrix}). */
    int[] groups = new int[0];
    float[] d = new float[0];
    boolean valid;
    boolean llama;

    /** Q4_0 and Q4_K's form: 4-bit codes, offset 8. */
    Q8Lanes() {
        this(SUM, 8);
    }

    Q8Lanes(float budget, int offset) {
        this(budget, offset, false);
    }

    private Q8Lanes(float budget, int offset, boolean perEight) {
        this.budget = budget;
        this.offset = offset;
        this.perEight = perEight;
    }

    /** Q6_K's form: signed codes (no offset), the budget per run of 8 values ({@link #SUM6}). */
    static Q8Lanes sixBit() {
        return new Q8Lanes(SUM6, 0, true);
    }

    /**
     * Builds the form from {@code cols} values of {@code src} at {@code off} ({@code cols} a multiple of 32),
     * on llama.cpp's grid or the finer default one.
     */
    void build(float[] src, int off, int cols, boolean llama) {
        int nb = cols / 32;
        // three more: Q5KTiles' 33rd slot per block and Q3KTiles' 33rd to 35th are codes 0 that read the
        // positions after the block
        if (pairs.length < cols + 3) pairs = new int[cols + 3];
        if (corrs.length < nb) corrs = new int[nb];
        if (d.length < nb) d = new float[nb];
        if (groups.length < 2 * nb) groups = new int[2 * nb];
        for (int b = 0; b < nb; b++) {
            int s = off + b * 32;
            FloatVector x0 = FloatVector.fromArray(FS, src, s), x1 = FloatVector.fromArray(FS, src, s + 8);
            FloatVector x2 = FloatVector.fromArray(FS, src, s + 16), x3 = FloatVector.fromArray(FS, src, s + 24);
            float id, scale;
            if (llama) {
                float amax = x0.abs().max(x1.abs()).max(x2.abs().max(x3.abs())).reduceLanes(VectorOperators.MAX);
                id = amax != 0 ? 127f / amax : 0f;
                scale = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            } else {
                // summed lane by lane in a fixed order: reduceLanes(ADD) may add in any order, and a scale that
                // differs in the last bit between compiled and interpreted code would change results with the JIT
                float sum;
                if (perEight) {
                    sum = Math.max(Math.max(laneSum(x0), laneSum(x1)), Math.max(laneSum(x2), laneSum(x3)));
                } else {
                    x0.abs().add(x1.abs()).add(x2.abs().add(x3.abs())).intoArray(lanes, 0);
                    sum = 0;
                    for (int i = 0; i < 8; i++) sum += lanes[i];
                }
                id = sum != 0 ? budget / sum : 0f;
                scale = sum / budget;
            }
            rounded(x0, id).intoArray(ints, 0);
            rounded(x1, id).intoArray(ints, 8);
            rounded(x2, id).intoArray(ints, 16);
            rounded(x3, id).intoArray(ints, 24);
            int first = 0, qsum = 0;
            for (int i = 0; i < 32; i++) {
                if (i == 16) first = qsum;
                qsum += ints[i];
                pairs[b * 32 + i] = pair(ints[i]);
            }
            corrs[b] = pair(offset * qsum);
            groups[2 * b] = first;
            groups[2 * b + 1] = qsum - first;
            d[b] = scale;
        }
        this.llama = llama;
        valid = true;
    }

    /** sum|x| over one run of 8 values, in a fixed order (see build). Math.max keeps a NaN, as the block sum does. */
    private float laneSum(FloatVector x) {
        x.abs().intoArray(lanes, 0);
        float sum = 0;
        for (int i = 0; i < 8; i++) sum += lanes[i];
        return sum;
    }

    /** The integer at column c. */
    short value(int c) {
        return (short) pairs[c];
    }

    /** offset * sum(q) of block b, as the kernels take it off. */
    short corr(int b) {
        return (short) corrs[b];
    }

    private static int pair(int v) {
        return (v & 0xFFFF) | (v << 16);
    }

    private static IntVector rounded(FloatVector x, float id) {
        return (IntVector) x.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2I, IntVector.SPECIES_256, 0);
    }
}
