package moge.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import moge.format.DType;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Q4_K: d, dmin, twelve bytes of 6-bit scales and mins, 128 bytes of nibbles (see {@link GgmlQuants}). */
final class Q4KMatrix extends KQuantMatrix {
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

    Q4KMatrix(String name, int rows, int cols, MemorySegment data) {
        super(name, DType.Q4_K, rows, cols, data);
    }

    @Override
    void decodeBlock(long p, float[] dst, int o) {
        float d = GgmlQuants.half(data, p), dmin = GgmlQuants.half(data, p + 2);
        long sc = p + 4, qs = p + 16;
        for (int j = 0; j < 4; j++) {
            float d1 = d * GgmlQuants.q4kScale(data, sc, 2 * j), m1 = dmin * GgmlQuants.q4kMin(data, sc, 2 * j);
            float d2 = d * GgmlQuants.q4kScale(data, sc, 2 * j + 1), m2 = dmin * GgmlQuants.q4kMin(data, sc, 2 * j + 1);
            for (int l = 0; l < 32; l += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(BS, data, qs + 32L * j + l, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, IS, 0);
                ((FloatVector) q.and(15).convert(VectorOperators.I2F, 0)).mul(d1).sub(m1).intoArray(dst, o + 64 * j + l);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).and(15).convert(VectorOperators.I2F, 0)).mul(d2).sub(m2)
                        .intoArray(dst, o + 64 * j + 32 + l);
            }
        }
    }
}
