package moge.spec;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class BlockQuantizerTest {
    private static short scaleBits(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_SHORT_UNALIGNED, at);
    }

    @Test
    void q8_0BlockOfARampHasGgmlsBytes() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = j - 16;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(34);
            BlockQuantizer.quantize(DType.Q8_0, x, 0, 32, s, 0);
            float d = 16f / 127;
            assertThat(scaleBits(s, 0)).isEqualTo(Float.floatToFloat16(d));
            for (int j = 0; j < 32; j++) {
                int expect = (int) Math.signum(x[j] / d) * (int) Math.floor(Math.abs(x[j] * (1 / d)) + 0.5);
                assertThat((int) s.get(ValueLayout.JAVA_BYTE, 2 + j)).as("element %d", j).isEqualTo(expect);
            }
            assertThat((int) s.get(ValueLayout.JAVA_BYTE, 2)).isEqualTo(-127);
        }
    }

    @Test
    void q4_0MapsTheLargestMagnitudeToMinusEightAndClampsItsMirror() {
        float[] x = new float[32];
        x[3] = 4f;   // largest magnitude, positive: d = -0.5
        x[7] = -4f;  // its mirror: x * id + 8.5 = 16.5, clamped to 15
        x[9] = 1.2f; // -2.4 + 8.5 = 6.1 -> 6
        x[20] = -0.76f; // 1.52 + 8.5 = 10.02 -> 10
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(18);
            BlockQuantizer.quantize(DType.Q4_0, x, 0, 32, s, 0);
            assertThat(scaleBits(s, 0)).isEqualTo(Float.floatToFloat16(-0.5f));
            int[] q = new int[32];
            for (int j = 0; j < 16; j++) {
                int b = s.get(ValueLayout.JAVA_BYTE, 2 + j) & 0xFF;
                q[j] = b & 0xF;
                q[j + 16] = b >> 4;
            }
            assertThat(q[3]).isEqualTo(0);
            assertThat(q[7]).isEqualTo(15);
            assertThat(q[9]).isEqualTo(6);
            assertThat(q[20]).isEqualTo(10);
            assertThat(q[0]).isEqualTo(8);
            float[] back = new float[32];
            BlockQuantizer.dequantize(DType.Q4_0, s, 0, back, 0, 32);
            assertThat(back[3]).isEqualTo(4f);
            assertThat(back[7]).isEqualTo(-3.5f);
            assertThat(back[0]).isEqualTo(0f);
        }
    }

    @Test
    void zeroBlocksStayZero() {
        float[] x = new float[64];
        try (Arena a = Arena.ofConfined()) {
            for (DType t : new DType[]{DType.Q8_0, DType.Q4_0}) {
                MemorySegment s = a.allocate(t.bytesFor(64));
                BlockQuantizer.quantize(t, x, 0, 64, s, 0);
                float[] back = new float[64];
                java.util.Arrays.fill(back, 7f);
                BlockQuantizer.dequantize(t, s, 0, back, 0, 64);
                // ggml's Q4_0 scale of an all-zero block is -0: values come back as -0.0, equal to 0.
                for (float v : back) assertThat(v == 0f).isTrue();
            }
        }
    }

    @Test
    void roundTripErrorIsWithinHalfAStepOnRandomRows() {
        SplittableRandom r = new SplittableRandom(11);
        try (Arena a = Arena.ofConfined()) {
            for (int iter = 0; iter < 300; iter++) {
                int n = 32 * (1 + r.nextInt(9));
                // Scales stay within fp16's normal range, where d keeps 11 significant bits.
                float scale = (float) Math.pow(10, r.nextInt(6) - 2);
                float[] x = new float[n + 5];
                int off = r.nextInt(5);
                for (int i = 0; i < n; i++) x[off + i] = (float) (r.nextGaussian() * scale);
                for (DType t : new DType[]{DType.Q8_0, DType.Q4_0}) {
                    MemorySegment s = a.allocate(t.bytesFor(n) + 7);
                    long at = r.nextInt(7);
                    BlockQuantizer.quantize(t, x, off, n, s, at);
                    float[] back = new float[n];
                    BlockQuantizer.dequantize(t, s, at, back, 0, n);
                    for (int b = 0; b < n / 32; b++) {
                        float amax = 0;
                        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[off + 32 * b + j]));
                        // Step of the grid; Q4_0's mirror of the extreme value may be off by a full step.
                        double step = t == DType.Q8_0 ? amax / 127 : amax / 8;
                        double bound = (t == DType.Q8_0 ? 0.5 : 1.0) * step * 1.002 + 1e-3 * amax;
                        for (int j = 0; j < 32; j++) {
                            int i = 32 * b + j;
                            assertThat((double) Math.abs(back[i] - x[off + i])).as("%s n=%d i=%d", t, n, i).isLessThanOrEqualTo(bound);
                        }
                    }
                }
            }
        }
    }

    @Test
    void roundsHalvesAwayFromZeroLikeC() {
        assertThat(BlockQuantizer.roundHalfAway(2.5f)).isEqualTo(3);
        assertThat(BlockQuantizer.roundHalfAway(-2.5f)).isEqualTo(-3);
        assertThat(BlockQuantizer.roundHalfAway(0.49999997f)).isEqualTo(0);
        assertThat(BlockQuantizer.roundHalfAway(-126.5f)).isEqualTo(-127);
    }
}
