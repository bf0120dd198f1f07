package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

/**
 * Manual benchmark (not a test): where the Q8_0 decode kernel's time goes, as variants of its four-row loop
 * ({@code Q8_0Matrix.dot4}, 256-bit vectors) over random weights, run in short alternating slots so that the
 * host's drift cancels; prints each variant's median rate and its median ratio to the first. Two of the
 * variants drop work the product needs (upper bounds, wrong results), the others change where the scales live.
 * <pre>
 * java --add-modules jdk.incubator.vector -cp moge-core/target/test-classes moge.tensor.Q8DecodeVariantsBench \
 *     ROWS COLS MATRICES ROUNDS [VARIANTS, e.g. current,noScale,noShift,floatScales,widenedPerQuad,interleaved]
 * </pre>
 * ROWS x COLS x MATRICES sets the working set: 256 1024 1 stays in the second-level cache, 2048 2048 6 comes from
 * memory (run two at once to load both cores).
 */
public final class Q8DecodeVariantsBench {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_256;
    private static final int L = 8, G = 32;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final int rows, cols, groups;
    /** Values as the repacked matrix has them (quads of rows interleaved group by group), then fp16 scales. */
    private final MemorySegment packed;
    /** The same values with each quad group's four fp16 scales right after it (136-byte groups). */
    private final MemorySegment interleaved;
    private final float[] floatScales, quadScales;

    private Q8DecodeVariantsBench(int rows, int cols, long seed) {
        this.rows = rows;
        this.cols = cols;
        this.groups = cols / G;
        Random rnd = new Random(seed);
        long values = (long) rows * cols, nScales = (long) rows * groups;
        packed = Arena.global().allocate(values + 2 * nScales, 64);
        interleaved = Arena.global().allocate(values + 2 * nScales, 64);
        floatScales = new float[(int) nScales];
        quadScales = new float[4 * groups];
        for (long i = 0; i < values; i++) packed.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
        for (int i = 0; i < nScales; i++) {
            short h = Float.floatToFloat16(0.001f + 0.01f * rnd.nextFloat());
            packed.set(ValueLayout.JAVA_SHORT_UNALIGNED, values + 2L * i, h);
            floatScales[i] = Float.float16ToFloat(h);
        }
        for (int q = 0; q < rows / 4; q++) {
            for (int g = 0; g < groups; g++) {
                long to = ((long) q * groups + g) * 136, from = (long) q * 4 * cols + (long) g * 4 * G;
                MemorySegment.copy(packed, from, interleaved, to, 4 * G);
                for (int i = 0; i < 4; i++) {
                    short h = packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, values + 2L * ((long) q * 4 * groups + 4L * g + i));
                    interleaved.set(ValueLayout.JAVA_SHORT_UNALIGNED, to + 4 * G + 2L * i, h);
                }
            }
        }
    }

    private static FloatVector slice(IntVector v, int k) {
        return (FloatVector) v.lanewise(VectorOperators.LSHL, 24 - 8 * k).lanewise(VectorOperators.ASHR, 24)
                .convertShape(VectorOperators.I2F, FS, 0);
    }

    private static FloatVector noShiftSlice(IntVector v, int k) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, FS, 0);
    }

    private FloatVector half(long at) {
        return FloatVector.broadcast(FS, Float.float16ToFloat(packed.get(ValueLayout.JAVA_SHORT_UNALIGNED, at)));
    }

    // Each variant is its own method, written as the kernel is (small loops), so that C2 compiles each alone.
    private float current(int r, float[] x) {
        long q0 = (long) r * cols, q1 = q0 + G, q2 = q1 + G, q3 = q2 + G, s0 = (long) rows * cols + 2L * r * groups;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long go = 4L * g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, packed, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, packed, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, packed, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, packed, q3 + go, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xv = FloatVector.fromArray(FS, x, g * G + k * L);
                p0 = slice(v0, k).fma(xv, p0);
                p1 = slice(v1, k).fma(xv, p1);
                p2 = slice(v2, k).fma(xv, p2);
                p3 = slice(v3, k).fma(xv, p3);
            }
            long so = s0 + 8L * g;
            a0 = p0.fma(half(so), a0);
            a1 = p1.fma(half(so + 2), a1);
            a2 = p2.fma(half(so + 4), a2);
            a3 = p3.fma(half(so + 6), a3);
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private float noScale(int r, float[] x) {
        long q0 = (long) r * cols, q1 = q0 + G, q2 = q1 + G, q3 = q2 + G;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long go = 4L * g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, packed, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, packed, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, packed, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, packed, q3 + go, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xv = FloatVector.fromArray(FS, x, g * G + k * L);
                p0 = slice(v0, k).fma(xv, p0);
                p1 = slice(v1, k).fma(xv, p1);
                p2 = slice(v2, k).fma(xv, p2);
                p3 = slice(v3, k).fma(xv, p3);
            }
            a0 = a0.add(p0);
            a1 = a1.add(p1);
            a2 = a2.add(p2);
            a3 = a3.add(p3);
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private float noShift(int r, float[] x) {
        long q0 = (long) r * cols, q1 = q0 + G, q2 = q1 + G, q3 = q2 + G, s0 = (long) rows * cols + 2L * r * groups;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long go = 4L * g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, packed, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, packed, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, packed, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, packed, q3 + go, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xv = FloatVector.fromArray(FS, x, g * G + k * L);
                p0 = noShiftSlice(v0, k).fma(xv, p0);
                p1 = noShiftSlice(v1, k).fma(xv, p1);
                p2 = noShiftSlice(v2, k).fma(xv, p2);
                p3 = noShiftSlice(v3, k).fma(xv, p3);
            }
            long so = s0 + 8L * g;
            a0 = p0.fma(half(so), a0);
            a1 = p1.fma(half(so + 2), a1);
            a2 = p2.fma(half(so + 4), a2);
            a3 = p3.fma(half(so + 6), a3);
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    /** widenedPerQuad: the quad's scales first widened to float 8 at a time (as Q4_0Matrix does), then read as floats. */
    private float scalesFrom(int r, float[] x, float[] sc, int s0) {
        long q0 = (long) r * cols, q1 = q0 + G, q2 = q1 + G, q3 = q2 + G;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++) {
            long go = 4L * g * G;
            IntVector v0 = IntVector.fromMemorySegment(IS, packed, q0 + go, LE), v1 = IntVector.fromMemorySegment(IS, packed, q1 + go, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, packed, q2 + go, LE), v3 = IntVector.fromMemorySegment(IS, packed, q3 + go, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xv = FloatVector.fromArray(FS, x, g * G + k * L);
                p0 = slice(v0, k).fma(xv, p0);
                p1 = slice(v1, k).fma(xv, p1);
                p2 = slice(v2, k).fma(xv, p2);
                p3 = slice(v3, k).fma(xv, p3);
            }
            int so = s0 + 4 * g;
            a0 = p0.fma(FloatVector.broadcast(FS, sc[so]), a0);
            a1 = p1.fma(FloatVector.broadcast(FS, sc[so + 1]), a1);
            a2 = p2.fma(FloatVector.broadcast(FS, sc[so + 2]), a2);
            a3 = p3.fma(FloatVector.broadcast(FS, sc[so + 3]), a3);
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private float widenedPerQuad(int r, float[] x) {
        long at = (long) rows * cols + 2L * r * groups;
        for (int i = 0; i < quadScales.length; i += 8) {
            IntVector h = (IntVector) ShortVector.fromMemorySegment(ShortVector.SPECIES_128, packed, at + 2L * i, LE)
                    .convertShape(VectorOperators.S2I, IS, 0);
            h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f).intoArray(quadScales, i);
        }
        return scalesFrom(r, x, quadScales, 0);
    }

    private float interleavedScales(int r, float[] x) {
        long q = (long) r / 4 * groups * 136;
        FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
        for (int g = 0; g < groups; g++, q += 136) {
            IntVector v0 = IntVector.fromMemorySegment(IS, interleaved, q, LE), v1 = IntVector.fromMemorySegment(IS, interleaved, q + G, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, interleaved, q + 2 * G, LE), v3 = IntVector.fromMemorySegment(IS, interleaved, q + 3 * G, LE);
            FloatVector p0 = FloatVector.zero(FS), p1 = p0, p2 = p0, p3 = p0;
            for (int k = 0; k < 4; k++) {
                FloatVector xv = FloatVector.fromArray(FS, x, g * G + k * L);
                p0 = slice(v0, k).fma(xv, p0);
                p1 = slice(v1, k).fma(xv, p1);
                p2 = slice(v2, k).fma(xv, p2);
                p3 = slice(v3, k).fma(xv, p3);
            }
            a0 = p0.fma(FloatVector.broadcast(FS, Float.float16ToFloat(interleaved.get(ValueLayout.JAVA_SHORT_UNALIGNED, q + 4 * G))), a0);
            a1 = p1.fma(FloatVector.broadcast(FS, Float.float16ToFloat(interleaved.get(ValueLayout.JAVA_SHORT_UNALIGNED, q + 4 * G + 2))), a1);
            a2 = p2.fma(FloatVector.broadcast(FS, Float.float16ToFloat(interleaved.get(ValueLayout.JAVA_SHORT_UNALIGNED, q + 4 * G + 4))), a2);
            a3 = p3.fma(FloatVector.broadcast(FS, Float.float16ToFloat(interleaved.get(ValueLayout.JAVA_SHORT_UNALIGNED, q + 4 * G + 6))), a3);
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private float pass(String variant, float[] x) {
        float sink = 0;
        for (int r = 0; r < rows; r += 4) {
            sink += switch (variant) {
                case "current" -> current(r, x);
                case "noScale" -> noScale(r, x);
                case "noShift" -> noShift(r, x);
                case "floatScales" -> scalesFrom(r, x, floatScales, r * groups);
                case "widenedPerQuad" -> widenedPerQuad(r, x);
                case "interleaved" -> interleavedScales(r, x);
                default -> throw new IllegalArgumentException("unknown variant " + variant);
            };
        }
        return sink;
    }

    public static void main(String[] a) {
        int rows = Integer.parseInt(a[0]), cols = Integer.parseInt(a[1]), count = Integer.parseInt(a[2]), rounds = Integer.parseInt(a[3]);
        String[] variants = (a.length > 4 ? a[4] : "current,noScale,noShift,floatScales,widenedPerQuad,interleaved").split(",");
        Q8DecodeVariantsBench[] ms = new Q8DecodeVariantsBench[count];
        for (int i = 0; i < count; i++) ms[i] = new Q8DecodeVariantsBench(rows, cols, i);
        float[] x = QuantTestData.floats(cols, 3);
        double[][] rate = new double[variants.length][rounds];
        float sink = 0;
        for (int round = -5; round < rounds; round++) {       // five rounds of warm-up
            for (int v = 0; v < variants.length; v++) {
                long t0 = System.nanoTime(), n = 0;
                while (System.nanoTime() - t0 < 100_000_000L) {
                    for (Q8DecodeVariantsBench m : ms) sink += m.pass(variants[v], x);
                    n++;
                }
                if (round >= 0) rate[v][round] = (double) n * count * rows * cols / (System.nanoTime() - t0);
            }
        }
        for (int v = 0; v < variants.length; v++) {
            double[] ratio = new double[rounds], r = rate[v].clone();
            for (int k = 0; k < rounds; k++) ratio[k] = rate[v][k] / rate[0][k];
            Arrays.sort(ratio);
            Arrays.sort(r);
            System.out.printf("%-15s median %.2f GB/s of values, to %s: median %.3f (quartiles %.3f-%.3f)%n", variants[v], r[rounds / 2],
                    variants[0], ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
        }
        if (Float.isNaN(sink)) System.out.println("(NaN)");
    }
}
