package moge.tensor;

/**
 * One token's activations in the form the Q4_0 and Q8_0 decode kernels read. Those kernels hold the weights
 * packed {@code F} fields of {@code bits} bits per int lane, field k of lane j being value {@code k*L + j} of a
 * group of {@code F*L} values, and take field k out with a single AND (no shift): the masked int is
 * {@code q * 2^(bits*k)}, converted to float exactly. Here value c of field k is stored times
 * {@code 2^(-bits*k)}, so that the product with the masked field is exactly {@code q * x}.
 * <p>
 * Fields below the top one hold {@code q = value + OFF} (unsigned after the mask); the top field holds the
 * value itself, its sign in the int's sign bit. {@link #corr} holds, per block of 32 and lane, {@code -OFF}
 * times the sum of the offset fields' x: a kernel starts each block's accumulator there.
 */
final class MaskedInput {
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
     * Builds the form from token 0 of {@code src} at {@code srcOff}, {@code cols} values, with L lanes; the
     * values past the last whole group keep plain order and scale (the kernels' tails read the plain input).
     */
    void build(float[] src, int srcOff, int cols, int lanes) {
        int g = fields * lanes, groups = cols / g, full = groups * g;
        if (x.length < cols) x = new float[cols];
        if (corr.length < cols / 32 * lanes) corr = new float[cols / 32 * lanes];
        for (int c = 0; c < full; c++) x[c] = Math.scalb(src[srcOff + c], -bits * ((c % g) / lanes));
        for (int c = full; c < cols; c++) x[c] = src[srcOff + c];
        int slicesPerBlock = 32 / lanes;
        for (int b = 0; b < full / 32; b++) {
            int c0 = b * 32, k0 = (c0 % g) / lanes, base = c0 - k0 * lanes;
            for (int j = 0; j < lanes; j++) {
                float s = 0;
                for (int k = k0; k < k0 + slicesPerBlock; k++) {
                    if (k < fields - 1) s += src[srcOff + base + k * lanes + j];
                }
                corr[b * lanes + j] = -off * s;
            }
        }
        valid = true;
    }
}
