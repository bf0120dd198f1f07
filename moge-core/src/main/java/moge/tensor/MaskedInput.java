package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One token's activations in the form the Q4_0 decode kernel reads ({@code bits} 4, {@code OFF} 8; the
 * code is general in the field width). The kernel holds the weights
 * packed {@code F} fields of {@code bits} bits per int lane, field k of lane j being value {@code k*L + j} of a
 * group of {@code F*L} values, and take field k out with a single AND (no shift): the masked int is
 * {@code q * 2^(bits*k)}, converted to float exactly. Here value c of field k is stored times
 * {@code 2^(-bits*k)}, so that the product with the masked field is exactly {@code q * x} (unless the scaled
 * value falls below float's normal range, |x| < 2^-98, where it loses bits of a negligible product).
 * <p>
 * Fields below the top one hold {@code q = value + OFF} (unsigned after the mask); the top field holds the
 * value itself, its sign in the int's sign bit. {@link #corr} holds, per block of 32 and lane, {@code -OFF}
 * times the sum of the offset fields' x: a kernel starts each block's accumulator there.
 */
final class MaskedInput {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    float[] x = new float[0];
    float[] corr = new float[0];
    boolean valid;

    private final int bits;
    private final int fields;
    private final float off;

    MaskedInput(int bits, float off) {
        this.bits = bits;
        this.fields = 32 / bits;
        this.off = off;
    }

    void invalidate() {
        valid = false;
    }

    /**
     * Builds the form from token 0 of {@code src} at {@code srcOff}, {@code cols} values; the values past the
     * last whole group keep plain order and scale (the kernels' tails read the plain input). Vectorized:
     * a MoE layer builds it for every expert's input.
     */
    void build(float[] src, int srcOff, int cols) {
        int g = fields * L, full = cols / g * g;
        if (x.length < cols) x = new float[cols];
        if (corr.length < cols / 32 * L) corr = new float[cols / 32 * L];
        for (int c = 0; c < full; c += g) {
            for (int k = 0; k < fields; k++) {
                // times a power of two: exact, as Math.scalb
                FloatVector.fromArray(FS, src, srcOff + c + k * L).mul(Math.scalb(1f, -bits * k)).intoArray(x, c + k * L);
            }
        }
        System.arraycopy(src, srcOff + full, x, full, cols - full);
        int slicesPerBlock = 32 / L;
        for (int b = 0; b < full / 32; b++) {
            int c0 = b * 32, k0 = (c0 % g) / L, base = srcOff + c0 - k0 * L;
            FloatVector s = FloatVector.zero(FS);
            for (int k = k0; k < Math.min(k0 + slicesPerBlock, fields - 1); k++) s = s.add(FloatVector.fromArray(FS, src, base + k * L));
            s.mul(-off).intoArray(corr, b * L);
        }
        valid = true;
    }
}
