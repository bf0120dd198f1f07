package moge.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The F16 kernels' half-to-float conversion against Float.float16ToFloat on every finite half. */
class F16ConversionTest {
    @Test
    void everyFiniteHalfConvertsExactly() {
        int L = FloatVector.SPECIES_PREFERRED.length();
        int[] h = new int[L];
        float[] out = new float[L];
        int checked = 0;
        for (int v = 0; v < 65536; v += L) {
            // sign-extended, as the kernels widen them; infinities and NaNs (exponent 31) become zeros of their sign
            for (int i = 0; i < L; i++) {
                int bits = v + i;
                if ((bits & 0x7C00) == 0x7C00) bits &= 0x8000;
                h[i] = (short) bits;
            }
            F16Matrix.toFloat(IntVector.fromArray(IntVector.SPECIES_PREFERRED, h, 0)).intoArray(out, 0);
            for (int i = 0; i < L; i++) {
                float expected = Float.float16ToFloat((short) h[i]);
                assertThat(Float.floatToRawIntBits(out[i])).as("half 0x%04x", h[i] & 0xFFFF).isEqualTo(Float.floatToRawIntBits(expected));
                checked++;
            }
        }
        assertThat(checked).isEqualTo(65536);
    }
}
