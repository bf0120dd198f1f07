package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * One token's activations in the form the Q4_0 decode kernel reads: integers per block of 32 with a float
 * scale, each broadcast to the {@link #LANES} lanes of a short vector, because the kernel holds one weight row
 * per lane. Per block b: {@code q[(b * 32 + p) * LANES + lane]} the integer at position p, {@code corr}
 * 8 * sum(q) broadcast (the kernel multiplies codes, value + 8, and takes this off), {@code d[b]} the scale.
 * <p>
 * Two grids. llama.cpp's ({@code llama}): int8, d = max|x| / 127 rounded to fp16, exactly as its
 * quantize_row_q8_0 ({@link Activations#q8Grid} gives the same values as floats). The default one spends
 * the whole 16-bit budget of the kernel instead: a block's sum must satisfy 8 * sum|q| <= 32767, so d =
 * sum|x| / {@value #SUM}. That d is never coarser than llama.cpp's (sum|x| <= 32 max|x|) and is up to 32
 * times finer in blocks with one large value, which int8 activations flatten to zero around it.
 */
final class Q8Lanes {
    static final VectorSpecies<Short> SS = ShortVector.SPECIES_256;
    static final int LANES = SS.length();

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    /** Adding and taking off 1.5 * 2^23 rounds a float below 2^22 to the nearest integer, ties to even, as Math.rint. */
    private static final float ROUND = 12582912f;
    /** sum|q| of a block: at most SUM + 16 after rounding, and 8 * 4080 fits a short. */
    static final float SUM = 4064f;

    private final int[] ints = new int[32];
    private final float[] lanes = new float[8];
    short[] q = new short[0];
    short[] corr = new short[0];
    float[] d = new float[0];
    boolean valid;
    boolean llama;

    /**
     * Builds the form from {@code cols} values of {@code src} at {@code off} ({@code cols} a multiple of 32),
     * on llama.cpp's grid or the finer default one.
     */
    void build(float[] src, int off, int cols, boolean llama) {
        int nb = cols / 32;
        if (q.length < cols * LANES) q = new short[cols * LANES];
        if (corr.length < nb * LANES) corr = new short[nb * LANES];
        if (d.length < nb) d = new float[nb];
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
                x0.abs().add(x1.abs()).add(x2.abs().add(x3.abs())).intoArray(lanes, 0);
                float sum = 0;
                for (int i = 0; i < 8; i++) sum += lanes[i];
                id = sum != 0 ? SUM / sum : 0f;
                scale = sum / SUM;
            }
            rounded(x0, id).intoArray(ints, 0);
            rounded(x1, id).intoArray(ints, 8);
            rounded(x2, id).intoArray(ints, 16);
            rounded(x3, id).intoArray(ints, 24);
            int qsum = 0;
            for (int i = 0; i < 32; i++) {
                qsum += ints[i];
                ShortVector.broadcast(SS, (short) ints[i]).intoArray(q, (b * 32 + i) * LANES);
            }
            ShortVector.broadcast(SS, (short) (8 * qsum)).intoArray(corr, b * LANES);
            d[b] = scale;
        }
        this.llama = llama;
        valid = true;
    }

    private static IntVector rounded(FloatVector x, float id) {
        return (IntVector) x.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2I, IntVector.SPECIES_256, 0);
    }
}
