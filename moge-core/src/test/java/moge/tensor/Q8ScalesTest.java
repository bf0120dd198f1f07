package moge.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q8_0's one-token kernel ({@link Q8Quads#ints}) takes each fp16 scale as Float.float16ToFloat gives it: an
 * infinite scale must keep its row non-finite, and the other rows must come out as they do from a clean file
 * (a fast vector conversion of the halves, exact for finite ones only, once made inf finite).
 */
class Q8ScalesTest {
    private static final int ROWS = 8, COLS = 2048; // 32 groups a row: the integer kernel, in quads

    @Test
    void anInfiniteScaleKeepsItsRowNonFiniteAndTheOtherRowsBitForBit() {
        MemorySegment damaged = QuantTestData.random(DType.Q8_0, ROWS, COLS, 7);
        damaged.set(ValueLayout.JAVA_SHORT_UNALIGNED, (2L * (COLS / 32) + 5) * 34, (short) 0x7C00); // row 2, block 5: +inf
        float[] x = QuantTestData.floats(COLS, 11);
        float[] y = product(damaged, x);
        float[] clean = product(QuantTestData.random(DType.Q8_0, ROWS, COLS, 7), x);
        assertThat(Float.isFinite(y[2])).as("row with an infinite scale: %s", y[2]).isFalse();
        for (int r = 0; r < ROWS; r++) {
            assertThat(Float.isFinite(clean[r])).isTrue();
            if (r != 2) assertThat(Float.floatToRawIntBits(y[r])).as("row %d", r).isEqualTo(Float.floatToRawIntBits(clean[r]));
        }
    }

    private static float[] product(MemorySegment raw, float[] x) {
        Matrix m = QuantizedMatrices.create("w", DType.Q8_0, ROWS, COLS, raw, false);
        float[] y = new float[ROWS];
        try (Parallel team = new Parallel(1)) {
            Kernels.matmul(team, m, new Activations().set(x, 1, COLS), y);
        }
        return y;
    }
}
