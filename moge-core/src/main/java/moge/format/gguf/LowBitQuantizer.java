package moge.format.gguf;

import moge.tensor.GgmlQuants;

/**
 * Float to ggml's Q3_K, Q2_K, IQ4_NL and IQ4_XS blocks, moge's own scheme in the manner of {@link KQuantizer}: each
 * group of values first gets a float scale (the min/max scale, then refits by least squares kept only while no
 * value errs by more than the min/max scale's worst error), the group scales are then quantized against the
 * block's fp16 scale (Q3_K and IQ4_XS: signed 6-bit multiples), and every code is the nearest point of the grid
 * the file will hold.
 *
 * <p>The bounds the tests check: Q3_K's 16-value groups hold codes -4..3, so the min/max scale amax/4 leaves
 * every value within amax/4 of its grid (the refit's limit); the stored scale d * sc is within d of the float
 * one (half a unit, or a whole one where +32 clamps to 31), moving a point by at most 4 d, so a value errs by at
 * most amax/4 + 4 d. IQ4's levels (kvalues_iq4nl, -127..113) are at most 24 apart and the min/max scale
 * amax/127 puts the largest value on -127, so every value lies within 14 amax/127 of its grid; IQ4_NL's fp16
 * scale moves a point by at most 127 times its rounding, IQ4_XS's 6-bit scales by at most 127 d.
 */
final class LowBitQuantizer {
    /** Midpoints between neighbouring IQ4 levels: a value's nearest level is the count of midpoints below it. */
    private static final float[] MIDS = new float[15];

    static {
        for (int k = 0; k < 15; k++) MIDS[k] = (GgmlQuants.iq4nl(k) + GgmlQuants.iq4nl(k + 1)) / 2f;
    }

    private LowBitQuantizer() {
    }

    /**
     * Q3_K: hmask[32], qs[64], 12 bytes of sixteen 6-bit scales, fp16 d; x = d * (sc - 32) * q, q in -4..3 (two
     * low bits of q + 4 in qs, the third in hmask), laid out as ggml's dequantize_row_q3_K reads it.
     */
    static void q3_K(float[] x, int o, byte[] out, int bo) {
        float[] a = new float[16];
        float maxA = 0;
        for (int g = 0; g < 16; g++) {
            a[g] = KQuantizer.fitScale(x, o + 16 * g, 16, 4);
            if (Math.abs(a[g]) > Math.abs(maxA)) maxA = a[g];
        }
        // the largest scale lands on -32 (never past it: d is rounded up in magnitude), the 6-bit range's long end
        float d = signedSuperScale(maxA);
        GgmlQuantizer.putShort(out, bo + 108, Float.floatToFloat16(d));
        for (int g = 0; g < 16; g++) {
            float amax = 0;
            for (int l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[o + 16 * g + l]));
            int sc = bestSignedScale(x, o + 16 * g, 16, d, a[g], amax / 4 + 4 * Math.abs(d), Q3_CODES);
            int u = sc + 32;
            out[bo + 96 + g % 8] |= (byte) ((u & 15) << 4 * (g / 8));
            out[bo + 104 + g % 4] |= (byte) ((u >> 4) << 2 * (g / 4));
            float step = d * sc;
            for (int l = 0; l < 16; l++) {
                int i = 16 * g + l, q = nearestCode(x[o + i], step, Q3_CODES) + 4;
                out[bo + 32 + 32 * (i / 128) + i % 32] |= (byte) ((q & 3) << 2 * ((i % 128) / 32));
                out[bo + i % 32] |= (byte) ((q >> 2) << (i / 32));
            }
        }
    }

    /**
     * Q2_K: 16 bytes of 4-bit scale and min pairs (the scale in the low nibble), qs[64] (value i's code at bits
     * 2 ((i % 128) / 32) of qs[32 (i / 128) + i % 32]), fp16 d and dmin; x = d * sc * q - dmin * m with q in 0..3
     * per 16 values, on {@link KQuantizer#affineGroups}' grids: every value within one min/max step
     * (max - min(0, min)) / 3 of its group's float grid, plus 3 d / 2 + dmin / 2 for the 4-bit scale and min.
     */
    static void q2_K(float[] x, int o, byte[] out, int bo) {
        KQuantizer.Affine f = KQuantizer.affineGroups(x, o, 16, 3, 15);
        for (int g = 0; g < 16; g++) out[bo + g] = (byte) (f.sc()[g] | f.m()[g] << 4);
        int[] q = f.q();
        for (int i = 0; i < 256; i++) out[bo + 16 + 32 * (i / 128) + i % 32] |= (byte) (q[i] << 2 * ((i % 128) / 32));
        GgmlQuantizer.putShort(out, bo + 80, f.d());
        GgmlQuantizer.putShort(out, bo + 82, f.dmin());
    }

    /** IQ4_NL: fp16 d, 16 bytes of nibbles (low nibbles values 0..15) indexing kvalues_iq4nl; x = d * level. */
    static void iq4_nl(float[] x, int o, byte[] out, int bo) {
        short dh = Float.floatToFloat16(iq4Scale(x, o));
        GgmlQuantizer.putShort(out, bo, dh);
        iq4Codes(x, o, Float.float16ToFloat(dh), out, bo + 2);
    }

    /**
     * IQ4_XS: fp16 d, scales_h (top two bits of block b's 6-bit scale at bit 2b), scales_l[4] (low nibbles, even
     * blocks in the low half), 128 bytes of nibbles as IQ4_NL's; x = d * (ls - 32) * level.
     */
    static void iq4_xs(float[] x, int o, byte[] out, int bo) {
        float[] s = new float[8], limit = new float[8], err = new float[1];
        float maxS = 0;
        for (int b = 0; b < 8; b++) {
            s[b] = iq4Scale(x, o + 32 * b);
            iq4Error(x, o + 32 * b, minMaxScale(x, o + 32 * b), err);
            limit[b] = err[0];
            if (Math.abs(s[b]) > Math.abs(maxS)) maxS = s[b];
        }
        float d = signedSuperScale(maxS);
        GgmlQuantizer.putShort(out, bo, Float.floatToFloat16(d));
        int high = 0;
        for (int b = 0; b < 8; b++) {
            int ls = bestSignedScale(x, o + 32 * b, 32, d, s[b], limit[b] + 127 * Math.abs(d), null) + 32;
            out[bo + 4 + b / 2] |= (byte) ((ls & 15) << 4 * (b % 2));
            high |= (ls >> 4) << 2 * b;
            iq4Codes(x, o + 32 * b, d * (ls - 32), out, bo + 8 + 16 * b);
        }
        GgmlQuantizer.putShort(out, bo + 2, (short) high);
    }

    private static final int[] Q3_CODES = {-4, -3, -2, -1, 0, 1, 2, 3};

    /**
     * The fp16 super-block scale that puts the float scale {@code max} (the one of largest magnitude) on -32,
     * rounded up in magnitude so that no scale quantizes past -32.
     */
    private static float signedSuperScale(float max) {
        return -Math.signum(max) * Float.float16ToFloat(KQuantizer.fp16AtLeast(Math.abs(max) / 32));
    }

    /**
     * The multiple sc in -32..31 of d nearest to the float scale a, or a neighbour with less squared error as long as
     * no value errs by more than {@code cap}; codes are those of {@code codes} (Q3_K) or the IQ4 levels (null).
     */
    private static int bestSignedScale(float[] x, int o, int n, float d, float a, float cap, int[] codes) {
        int sc0 = d == 0 ? 0 : Math.max(-32, Math.min(31, Math.round(a / d))), best = sc0;
        float[] err = new float[1];
        double bestE = gridError(x, o, n, d * sc0, codes, null);
        for (int s2 = Math.max(-32, sc0 - 1); s2 <= Math.min(31, sc0 + 1); s2++) {
            double e = gridError(x, o, n, d * s2, codes, err);
            if (e < bestE && err[0] <= cap) {
                bestE = e;
                best = s2;
            }
        }
        return best;
    }

    private static double gridError(float[] x, int o, int n, float step, int[] codes, float[] maxErr) {
        if (codes == null) return iq4Error(x, o, step, maxErr);
        double e = 0;
        float m = 0;
        for (int l = 0; l < n; l++) {
            float r = step * nearestCode(x[o + l], step, codes) - x[o + l];
            e += (double) r * r;
            m = Math.max(m, Math.abs(r));
        }
        if (maxErr != null) maxErr[0] = m;
        return e;
    }

    /** The code of {@code codes} (consecutive integers) nearest to x / step; 0 when the grid is a single point. */
    private static int nearestCode(float x, float step, int[] codes) {
        if (step == 0) return 0;
        return Math.max(codes[0], Math.min(codes[codes.length - 1], Math.round(x / step)));
    }

    /** The scale that puts the value of largest magnitude on level -127 (0 for an all-zero block). */
    private static float minMaxScale(float[] x, int o) {
        float max = 0;
        for (int l = 0; l < 32; l++) if (Math.abs(x[o + l]) > Math.abs(max)) max = x[o + l];
        return max / -127f;
    }

    /**
     * A float scale for 32 values on the IQ4 levels: the min/max scale, then scales that put the largest value a
     * few units inside either end of the table (it is lopsided: -127..113), each with its least-squares refit; the
     * one with the lowest squared error whose worst value is no worse than the min/max scale's. One pass over the
     * values gives a candidate's error and its refit both (the search was a third of a 1 GB conversion's time).
     */
    static float iq4Scale(float[] x, int o) {
        float s0 = minMaxScale(x, o);
        if (s0 == 0) return 0;
        float max = -127f * s0, bestS = s0;
        double[] fit = new double[3];
        double best = iq4Pass(x, o, s0, fit);
        float limit = (float) fit[2];
        for (int end : new int[]{-127, 113}) {
            for (int t = -5; t <= 5; t += 5) {
                float s = end == -127 && t == 0 ? s0 : max / (end + t);
                double e = end == -127 && t == 0 ? best : iq4Pass(x, o, s, fit);
                if (e < best && fit[2] <= limit) {
                    best = e;
                    bestS = s;
                }
                // s = sum(x * level) / sum(level^2) over the levels s picked
                float c = fit[1] > 0 ? (float) (fit[0] / fit[1]) : s;
                double ec = iq4Pass(x, o, c, fit);
                if (ec < best && fit[2] <= limit) {
                    best = ec;
                    bestS = c;
                }
            }
        }
        return bestS;
    }

    /**
     * Squared error of 32 values on scale s (each on its nearest level); fit gets sum(x * level), sum(level^2) and
     * the largest error.
     */
    private static double iq4Pass(float[] x, int o, float s, double[] fit) {
        double e = 0, xl = 0, ll = 0;
        float m = 0, inv = s == 0 ? 0 : 1 / s;
        for (int l = 0; l < 32; l++) {
            int v = s == 0 ? 0 : GgmlQuants.iq4nl(nearestLevel(x[o + l] * inv));
            float r = s * v - x[o + l];
            e += (double) r * r;
            m = Math.max(m, Math.abs(r));
            xl += (double) x[o + l] * v;
            ll += (double) v * v;
        }
        fit[0] = xl;
        fit[1] = ll;
        fit[2] = m;
        return e;
    }

    private static double iq4Error(float[] x, int o, float s, float[] maxErr) {
        double[] fit = new double[3];
        double e = iq4Pass(x, o, s, fit);
        if (maxErr != null) maxErr[0] = (float) fit[2];
        return e;
    }

    /** 32 values as the nibbles of their nearest levels under step dl (as the decoder forms dl * level) into out[at..at+16). */
    private static void iq4Codes(float[] x, int o, float dl, byte[] out, int at) {
        for (int l = 0; l < 32; l++) {
            int k = dl == 0 ? 8 : nearestLevel(x[o + l] / dl);
            out[at + l % 16] |= (byte) (k << (l < 16 ? 0 : 4));
        }
    }

    /** The index (0..15) of the IQ4 level nearest to v. */
    private static int nearestLevel(float v) {
        int lo = 0, hi = 15;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (MIDS[mid] < v) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
