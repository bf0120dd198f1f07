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
}
