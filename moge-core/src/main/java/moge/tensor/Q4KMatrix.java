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
        // the twelve packed scale bytes in two reads, unpacked in registers (per-byte segment reads cost more
        // than the vector work of the block)
        long lo = data.get(Layouts.I64, p + 4);
        int hi = data.get(Layouts.I32, p + 12);
        long qs = p + 16;
        for (int j = 0; j < 4; j++) {
            int sc1 = scale(lo, hi, 2 * j), sc2 = scale(lo, hi, 2 * j + 1);
            int m1 = min(lo, hi, 2 * j), m2 = min(lo, hi, 2 * j + 1);
            float d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2;
            for (int l = 0; l < 32; l += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(BS, data, qs + 32L * j + l, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, IS, 0);
                ((FloatVector) q.and(15).convertShape(VectorOperators.I2F, FS, 0)).mul(d1).sub(dm1).intoArray(dst, o + 64 * j + l);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).and(15).convertShape(VectorOperators.I2F, FS, 0)).mul(d2).sub(dm2)
                        .intoArray(dst, o + 64 * j + 32 + l);
            }
        }
    }

    private static int scaleByte(long lo, int hi, int i) {
        return (i < 8 ? (int) (lo >>> (8 * i)) : hi >>> (8 * (i - 8))) & 0xFF;
    }

    /** get_scale_min_k4's scale j (0..7), from the twelve bytes held in lo (0..7) and hi (8..11). */
    static int scale(long lo, int hi, int j) {
        return j < 4 ? scaleByte(lo, hi, j) & 63 : (scaleByte(lo, hi, j + 4) & 0xF) | ((scaleByte(lo, hi, j - 4) >> 6) << 4);
    }

    static int min(long lo, int hi, int j) {
        return j < 4 ? scaleByte(lo, hi, j + 4) & 63 : (scaleByte(lo, hi, j + 4) >> 4) | ((scaleByte(lo, hi, j) >> 6) << 4);
    }
}
