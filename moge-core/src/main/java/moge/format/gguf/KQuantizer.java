package moge.format.gguf;

/**
 * Float to ggml's Q4_K, Q5_K and Q6_K blocks (256 values) and Q5_0 blocks (32 values), moge's own scheme. Each sub-block first gets a float
 * grid: the min/max grid, then a few narrower candidates refitted by least squares, the one with the lowest
 * squared error kept as long as no value lands more than one min/max step away (so an outlier is never
 * traded away entirely). The sub-block scales (and Q4_K's mins) are then quantized against the super-block's
 * fp16 scale, and every code is chosen as the nearest point of the grid the file will actually hold.
 *
 * <p>That gives a bound the tests check. Every value is within one min/max step {@code s} of the float grid
 * (Q4_K: s = (max - min(0, min)) / 15 per 32 values, Q5_K the same over 31; Q6_K: s = max|x| / 32 per 16
 * values; Q5_0: max|x| / 16 per 32). The stored integer scale is within half a unit (d) of the float step, and
 * the stored min within half a unit (dmin) of the float min, so the float code's point moves by at most
 * 15 d / 2 + dmin / 2 (Q4_K), 31 d / 2 + dmin / 2 (Q5_K) or 32 d / 2 (Q6_K), and the nearest stored point is
 * no farther; Q5_0's fp16 scale d moves it by at most 16 |d - s|. A neighbouring integer scale (or min) replaces the rounded one only
 * when it lowers the squared error without leaving that bound.
 */
final class KQuantizer {
    /** Narrowing factors tried after the min/max grid: grid spans of 15/15.5, 15/16 ... of the range. */
    private static final float[] NARROW = {0.5f, 1f, 1.5f, 2f, 3f};

    private KQuantizer() {
    }

    /** Q4_K: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles; x = d*sc*q - dmin*m. */
    static void q4_K(float[] x, int o, byte[] out, int bo) {
        int[] q = affineSuperBlock(x, o, 15, out, bo);
        for (int i = 0; i < 256; i++) out[bo + 16 + 32 * (i / 64) + i % 32] |= (byte) (q[i] << 4 * (i / 32 % 2));
    }

    /**
     * Q5_K: Q4_K's d, dmin and scales, qh[32] (bit j of qh[l]: the fifth bit of value l of sub-block j), then the
     * low nibbles as Q4_K packs its codes; x = d*sc*q - dmin*m with q in 0..31.
     */
    static void q5_K(float[] x, int o, byte[] out, int bo) {
        int[] q = affineSuperBlock(x, o, 31, out, bo);
        for (int i = 0; i < 256; i++) {
            out[bo + 48 + 32 * (i / 64) + i % 32] |= (byte) ((q[i] & 15) << 4 * (i / 32 % 2));
            out[bo + 16 + i % 32] |= (byte) ((q[i] >> 4) << (i / 32));
        }
    }

    /**
     * Q4_K's and Q5_K's fp16 d and dmin and 12 bytes of 6-bit scales and mins into out[bo..bo + 16); returns the
     * 256 codes (0..top) on the grid those hold.
     */
    private static int[] affineSuperBlock(float[] x, int o, int top, byte[] out, int bo) {
        Affine f = affineGroups(x, o, 32, top, 63);
        int[] sc = f.sc(), m = f.m();
        GgmlQuantizer.putShort(out, bo, f.d());
        GgmlQuantizer.putShort(out, bo + 2, f.dmin());
        // the inverse of ggml's get_scale_min_k4: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and
        // 4-7 (mins); sub-blocks 4-7 keep their low 4 bits in bytes 8-11 and their top 2 bits above those
        for (int j = 0; j < 4; j++) {
            out[bo + 4 + j] = (byte) (sc[j] | ((sc[j + 4] >> 4) << 6));
            out[bo + 8 + j] = (byte) (m[j] | ((m[j + 4] >> 4) << 6));
            out[bo + 12 + j] = (byte) ((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
        }
        return f.q();
    }

    /** A super-block's affine grids: fp16 d and dmin, per group the integer scale and min, and the 256 codes. */
    record Affine(short d, short dmin, int[] sc, int[] m, int[] q) {
    }

    /**
     * The 256 values at x[o..] in groups of {@code n}, each on a grid d * sc * q - dmin * m with q in 0..top and
     * integer sc and m in 0..maxScale (Q4_K, Q5_K: 32 and 63; Q2_K: 16 and 15): per group a float fit
     * ({@link #fitAffine}), d and dmin from the largest, the rounded integers or a neighbour pair with less
     * squared error within the bound the class comment derives, and the codes nearest on the stored grid.
     */
    static Affine affineGroups(float[] x, int o, int n, int top, int maxScale) {
        int groups = 256 / n;
        float[] a = new float[groups], b = new float[groups], limit = new float[groups], fit = new float[3];
        float maxA = 0, maxB = 0;
        for (int j = 0; j < groups; j++) {
            fitAffine(x, o + n * j, n, top, fit);
            a[j] = fit[0];
            b[j] = fit[1];
            limit[j] = fit[2];
            maxA = Math.max(maxA, a[j]);
            maxB = Math.max(maxB, b[j]);
        }
        short dh = fp16AtLeast(maxA / maxScale), mh = fp16AtLeast(maxB / maxScale);
        float d = Float.float16ToFloat(dh), dmin = Float.float16ToFloat(mh);
        int[] sc = new int[groups], m = new int[groups];
        float[] err = new float[1];
        for (int j = 0; j < groups; j++) {
            int sc0 = d == 0 ? 0 : Math.min(maxScale, Math.round(a[j] / d)), m0 = dmin == 0 ? 0 : Math.min(maxScale, Math.round(b[j] / dmin));
            sc[j] = sc0;
            m[j] = m0;
            // the rounded pair, or a neighbour with less squared error on the stored grid, as long as every
            // value stays within the bound the rounded pair guarantees (see the class comment)
            double best = affineError(x, o + n * j, n, d * sc0, dmin * m0, top, null);
            float cap = limit[j] + top * 0.5f * d + 0.5f * dmin;
            for (int s2 = Math.max(0, sc0 - 1); s2 <= Math.min(maxScale, sc0 + 1); s2++) {
                for (int m2 = Math.max(0, m0 - 1); m2 <= Math.min(maxScale, m0 + 1); m2++) {
                    double e = affineError(x, o + n * j, n, d * s2, dmin * m2, top, err);
                    if (e < best && err[0] <= cap) {
                        best = e;
                        sc[j] = s2;
                        m[j] = m2;
                    }
                }
            }
        }
        int[] q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = code(x[o + i], d * sc[i / n], dmin * m[i / n], top);
        return new Affine(dh, mh, sc, m, q);
    }

    /** The nearest code of x on the grid step*q - off, q in 0..top (0 when the grid is a single point). */
    private static int code(float x, float step, float off, int top) {
        return step == 0 ? 0 : clamp(Math.round((x + off) / step), 0, top);
    }

    /** Q5_0: fp16 d, qh[4] (bit i: the fifth bit of value i), qs[16] packed as Q4_0's; x = d*(q - 16). */
    static void q5_0(float[] x, int o, byte[] out, int bo) {
        short dh = Float.floatToFloat16(fitScale(x, o, 32, 16));
        float d = Float.float16ToFloat(dh);
        GgmlQuantizer.putShort(out, bo, dh);
        int qh = 0;
        for (int i = 0; i < 32; i++) {
            int u = (d == 0 ? 0 : clamp(Math.round(x[o + i] / d), -16, 15)) + 16;
            out[bo + 6 + i % 16] |= (byte) ((u & 15) << (i < 16 ? 0 : 4));
            qh |= (u >> 4) << i;
        }
        for (int k = 0; k < 4; k++) out[bo + 2 + k] = (byte) (qh >>> 8 * k);
    }

    /**
     * Q4_1 / Q5_1 (levels 16 / 32): fp16 d and m from the block's range as ggml's reference quantizer takes them
     * (m = min, d = (max - min) / (levels - 1)), the codes rounded against the fp16-rounded d and m that the
     * decoder will use; Q5_1 puts the fifth bits in qh[4] after d and m, as Q5_0 does after d.
     */
    static void affine32(float[] x, int o, byte[] out, int bo, int levels) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < 32; i++) {
            min = Math.min(min, x[o + i]);
            max = Math.max(max, x[o + i]);
        }
        short dh = Float.floatToFloat16((max - min) / (levels - 1)), mh = Float.floatToFloat16(min);
        float d = Float.float16ToFloat(dh), m = Float.float16ToFloat(mh);
        GgmlQuantizer.putShort(out, bo, dh);
        GgmlQuantizer.putShort(out, bo + 2, mh);
        boolean five = levels == 32;
        int qs = bo + (five ? 8 : 4), qh = 0;
        for (int i = 0; i < 32; i++) {
            int q = d == 0 ? 0 : clamp(Math.round((x[o + i] - m) / d), 0, levels - 1);
            out[qs + i % 16] |= (byte) ((q & 15) << (i < 16 ? 0 : 4));
            qh |= (q >> 4) << i;
        }
        if (five) for (int k = 0; k < 4; k++) out[bo + 4 + k] = (byte) (qh >>> 8 * k);
    }

    /** Q6_K: ql[128] low nibbles, qh[64] top 2 bits, int8 scales[16], fp16 d; x = d*scale*(q - 32). */
    static void q6_K(float[] x, int o, byte[] out, int bo) {
        float[] a = new float[16];
        float maxA = 0;
        for (int j = 0; j < 16; j++) {
            a[j] = fitScale(x, o + 16 * j, 16, 32);
            maxA = Math.max(maxA, Math.abs(a[j]));
        }
        short dh = fp16AtLeast(maxA / 127);
        float d = Float.float16ToFloat(dh);
        GgmlQuantizer.putShort(out, bo + 208, dh);
        float[] err = new float[1];
        for (int j = 0; j < 16; j++) {
            int sc0 = d == 0 ? 0 : clamp(Math.round(a[j] / d), -127, 127), sc = sc0;
            // the rounded scale, or a neighbour with less squared error within the rounded one's bound
            float amax = 0;
            for (int l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(x[o + 16 * j + l]));
            float cap = amax / 32 + 16 * d;
            double best = scaleError(x, o + 16 * j, d * sc0, 16, 32, null);
            for (int s2 : new int[]{sc0 - 1, sc0 + 1}) {
                if (Math.abs(s2) > 127) continue;
                double e = scaleError(x, o + 16 * j, d * s2, 16, 32, err);
                if (e < best && err[0] <= cap) {
                    best = e;
                    sc = s2;
                }
            }
            out[bo + 192 + j] = (byte) sc;
            float step = d * sc;
            for (int l = 0; l < 16; l++) {
                int i = 16 * j + l;
                int u = (step == 0 ? 0 : clamp(Math.round(x[o + i] / step), -32, 31)) + 32;
                // as dequantize_row_q6_K reads it: each half of 128 values in four runs of 32; runs 0 and 2
                // share ql[l] (low, high nibble), runs 1 and 3 share ql[l + 32]; run g's top bits are bits
                // 2g..2g+1 of qh[l]
                int half = i / 128, g = (i % 128) / 32, ll = i % 32;
                int ql = bo + 64 * half + ll + (g % 2) * 32, qh = bo + 128 + 32 * half + ll;
                out[ql] |= (byte) ((u & 0xF) << (g < 2 ? 0 : 4));
                out[qh] |= (byte) ((u >> 4) << (2 * g));
            }
        }
    }

    /**
     * The grid a*q - b (q in 0..top, a and b >= 0, so its lowest point is never above zero as Q4_K, Q5_K and Q2_K
     * require) for n values, into fit[0] = a, fit[1] = b; fit[2] is the step of the min/max grid, the largest
     * error any fit is allowed.
     */
    static void fitAffine(float[] x, int o, int n, int top, float[] fit) {
        float lo = 0, hi = -Float.MAX_VALUE;
        for (int l = 0; l < n; l++) {
            lo = Math.min(lo, x[o + l]);
            hi = Math.max(hi, x[o + l]);
        }
        float a = (hi - lo) / top, b = -lo;
        fit[0] = a;
        fit[1] = b;
        fit[2] = a;
        if (a == 0) return;
        float limit = a;
        double best = affineError(x, o, n, a, b, top, null);
        float[] err = new float[1];
        for (float k : NARROW) {
            float ca = (hi - lo) / (top + k), cb = b;
            for (int round = 0; round < 2; round++) {
                // least squares of a*q - b against the codes of the current grid
                double sq = 0, sq2 = 0, sx = 0, sqx = 0;
                for (int l = 0; l < n; l++) {
                    int q = clamp(Math.round((x[o + l] + cb) / ca), 0, top);
                    sq += q;
                    sq2 += (double) q * q;
                    sx += x[o + l];
                    sqx += q * (double) x[o + l];
                }
                double det = n * sq2 - sq * sq;
                if (det <= 0) break;
                double na = (n * sqx - sq * sx) / det, nc = (sq2 * sx - sq * sqx) / det;
                if (nc > 0) {                       // the grid would start above zero: pin it there
                    nc = 0;
                    na = sqx / sq2;
                }
                if (!(na > 0)) break;
                ca = (float) na;
                cb = (float) -nc;
                double e = affineError(x, o, n, ca, cb, top, err);
                if (e < best && err[0] <= limit) {
                    best = e;
                    fit[0] = ca;
                    fit[1] = cb;
                }
            }
        }
    }

    /** Squared error of the nearest points of a*q - b; the largest single error into maxErr[0]. */
    private static double affineError(float[] x, int o, int n, float a, float b, int top, float[] maxErr) {
        double e = 0;
        float m = 0;
        for (int l = 0; l < n; l++) {
            float r = a * code(x[o + l], a, b, top) - b - x[o + l];
            e += (double) r * r;
            m = Math.max(m, Math.abs(r));
        }
        if (maxErr != null) maxErr[0] = m;
        return e;
    }

    /**
     * The signed step a of the grid a*q, q in -half..half-1, for n values (Q6_K: 16 and 32, Q5_0: 32 and 16): the
     * value of largest magnitude maps to -half (as Q4_0 maps it to -8), then narrower candidates refitted by
     * least squares.
     */
    static float fitScale(float[] x, int o, int n, int half) {
        float max = 0;
        for (int l = 0; l < n; l++) if (Math.abs(x[o + l]) > Math.abs(max)) max = x[o + l];
        float a = max / -half;
        if (a == 0) return 0;
        float limit = Math.abs(a), bestA = a;
        double best = scaleError(x, o, a, n, half, null);
        float[] err = new float[1];
        for (float k : NARROW) {
            float ca = max / -(half + k);
            for (int round = 0; round < 2; round++) {
                double sq2 = 0, sqx = 0;
                for (int l = 0; l < n; l++) {
                    int q = clamp(Math.round(x[o + l] / ca), -half, half - 1);
                    sq2 += (double) q * q;
                    sqx += q * (double) x[o + l];
                }
                if (sq2 == 0 || sqx == 0) break;
                ca = (float) (sqx / sq2);
                double e = scaleError(x, o, ca, n, half, err);
                if (e < best && err[0] <= limit) {
                    best = e;
                    bestA = ca;
                }
            }
        }
        return bestA;
    }

    private static double scaleError(float[] x, int o, float a, int n, int half, float[] maxErr) {
        double e = 0;
        float m = 0;
        for (int l = 0; l < n; l++) {
            float r = (a == 0 ? 0 : a * clamp(Math.round(x[o + l] / a), -half, half - 1)) - x[o + l];
            e += (double) r * r;
            m = Math.max(m, Math.abs(r));
        }
        if (maxErr != null) maxErr[0] = m;
        return e;
    }

    /**
     * The fp16 nearest to v >= 0, moved one step up when that rounded down: a super-block scale must not be
     * below max/63 (max/127), or the largest sub-block scale would not fit its 6 (8) bits.
     */
    static short fp16AtLeast(float v) {
        short h = Float.floatToFloat16(v);
        if (Float.float16ToFloat(h) < v) h++;
        return h;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
