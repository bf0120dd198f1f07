package moge.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;
import moge.format.Layouts;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit high parts, sixteen int8 scales, fp16 d. */
final class Q6KMatrix extends KQuantMatrix {
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    Q6KMatrix(String name, int rows, int cols, MemorySegment data) {
        super(name, DType.Q6_K, rows, cols, data);
    }

    private IntVector bytes(long p) {
        return (IntVector) ByteVector.fromMemorySegment(BS, data, p, LE).convertShape(VectorOperators.B2I, IS, 0);
    }

    @Override
    void decodeBlock(long p, float[] dst, int o) {
        float d = GgmlQuants.half(data, p + 208);
        for (int h = 0; h < 2; h++) {
            long ql = p + 64L * h, qh = p + 128 + 32L * h;
            // the eight int8 scales of this half in one read
            long sc = data.get(Layouts.I64, p + 192 + 8L * h);
            int y = o + 128 * h;
            // L <= 16, so a vector of l never straddles the two scales of a 32-value run
            for (int l = 0; l < 32; l += L) {
                int is = l / 16;
                IntVector a = bytes(ql + l), b = bytes(ql + l + 32), hb = bytes(qh + l);
                IntVector q1 = a.and(15).or(hb.and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                IntVector q2 = b.and(15).or(hb.lanewise(VectorOperators.LSHR, 2).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                IntVector q3 = a.lanewise(VectorOperators.LSHR, 4).and(15)
                        .or(hb.lanewise(VectorOperators.LSHR, 4).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                IntVector q4 = b.lanewise(VectorOperators.LSHR, 4).and(15)
                        .or(hb.lanewise(VectorOperators.LSHR, 6).and(3).lanewise(VectorOperators.LSHL, 4)).sub(32);
                store(q1, d * (byte) (sc >>> (8 * is)), dst, y + l);
                store(q2, d * (byte) (sc >>> (8 * (is + 2))), dst, y + l + 32);
                store(q3, d * (byte) (sc >>> (8 * (is + 4))), dst, y + l + 64);
                store(q4, d * (byte) (sc >>> (8 * (is + 6))), dst, y + l + 96);
            }
        }
    }

    private static void store(IntVector q, float scale, float[] dst, int o) {
        ((FloatVector) q.convertShape(VectorOperators.I2F, FS, 0)).mul(scale).intoArray(dst, o);
    }

    /**
     * Per 32 values, x[c + 4j + k] at c + 8k + j: the order in which {@link #dotRow} takes bytes out of int lanes
     * (byte k of lane j of 32 bytes read as 8 ints is byte 4j + k), so the codes never need widening from bytes.
     */
    @Override
    float[] orderedInput(float[] x, int xo) {
        float[] o = ORDERED.get();
        if (o.length < cols) ORDERED.set(o = new float[cols]);
        for (int c = 0; c < cols; c += 32) {
            for (int j = 0; j < 8; j++) {
                for (int k = 0; k < 4; k++) o[c + 8 * k + j] = x[xo + c + 4 * j + k];
            }
        }
        return o;
    }

    private static final ThreadLocal<float[]> ORDERED = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Decoding fused with the dot product over activations in {@link #orderedInput}'s order: decoding a row to
     * memory first and reading it back took 8.6x Q8_0's time per weight, and widening bytes with B2I
     * conversions 5x. Here 32 bytes are read as 8 ints and each byte taken out with a shift and a mask.
     */
    @Override
    float dotRow(long p, int nb, float[] x, int xo, float[] w, float[] lanes) {
        java.util.Arrays.fill(lanes, 0f);
        for (int b = 0; b < nb; b++, p += 210) {
            float d = GgmlQuants.half(data, p + 208);
            // per half, positions 0..31 and 64..95 from the low 32 bytes' nibbles, then 32..63 and 96..127; one call
            // site, so that C2 inlines pair once (twice ran past its node budget, and the vectors were boxed)
            for (int q = 0; q < 4; q++) {
                int h = q >> 1, side = q & 1;
                long sc = data.get(Layouts.I64, p + 192 + 8L * h) >>> (16 * side);
                pair(p + 64L * h + 32 * side, p + 128 + 32L * h, 2 * side, d, sc, x, xo + b * QK + 128 * h + 32 * side, lanes);
            }
        }
        return VectorMath.sumLanes(lanes, 0, L);
    }

    /**
     * 64 values: the low nibbles of the 32 bytes at {@code ql} with bits {@code shift} of the 32 at {@code qh}
     * (positions x[xb ..], scale bytes 0 and 1 of {@code sc}), their high nibbles with bits {@code shift + 4}
     * (x[xb + 64 ..], scale bytes 4 and 5); added to the lanes of {@code acc}. No vector crosses the call (C2
     * may leave it out of line and would box one); one for all 128 values of a half ran past C2's node budget.
     */
    private void pair(long ql, long qh, int shift, float d, long sc, float[] x, int xb, float[] acc) {
        IntVector lo = IntVector.fromMemorySegment(I8, data, ql, LE), hb = IntVector.fromMemorySegment(I8, data, qh, LE);
        // lanes 0..3 hold positions 0..15 of each 32 (the first scale), lanes 4..7 positions 16..31 (the second)
        FloatVector s1 = scales(d, sc, 0), s3 = scales(d, sc, 4);
        FloatVector a = FloatVector.fromArray(F8, acc, 0), c = FloatVector.zero(F8);
        for (int k = 0; k < 4; k++) {
            int sh = 8 * k, xk = xb + 8 * k;
            IntVector h = hb.lanewise(VectorOperators.LSHR, sh + shift);
            a = value(lo.lanewise(VectorOperators.LSHR, sh).and(15), h.and(3)).mul(s1).fma(FloatVector.fromArray(F8, x, xk), a);
            c = value(lo.lanewise(VectorOperators.LSHR, sh + 4).and(15), h.lanewise(VectorOperators.LSHR, 4).and(3)).mul(s3)
                    .fma(FloatVector.fromArray(F8, x, xk + 64), c);
        }
        a.add(c).intoArray(acc, 0);
    }

    /** The 6-bit code from its low four and high two bits, less 32, as floats. */
    private static FloatVector value(IntVector low, IntVector high) {
        return (FloatVector) low.or(high.lanewise(VectorOperators.LSHL, 4)).sub(32).convertShape(VectorOperators.I2F, F8, 0);
    }

    /** d times scale bytes i (lanes 0..3) and i + 1 (lanes 4..7) of {@code sc}. */
    private static FloatVector scales(float d, long sc, int i) {
        return FloatVector.broadcast(F8, d * (byte) (sc >>> (8 * i))).blend(d * (byte) (sc >>> (8 * (i + 1))), UPPER);
    }

    // 8 lanes whatever the preferred width: the ordering of orderedInput is made for 8 ints per 32 bytes
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final jdk.incubator.vector.VectorMask<Float> UPPER =
            jdk.incubator.vector.VectorMask.fromLong(FloatVector.SPECIES_256, 0xF0);
}
