package moge.format.gguf;

import moge.format.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** ggml's reference block formats: exact bytes on hand-made blocks, error bounds on random data. */
class GgmlQuantizerTest {
    private static float[] decode(DType t, byte[] b, int n) {
        float[] out = new float[n];
        GgmlQuantizer.decode(t, MemorySegment.ofArray(b), 0, out, 0, n);
        return out;
    }

    @Test
    void q8_0RoundsHalvesAwayFromZeroLikeRoundf() {
        float[] x = new float[32];
        x[0] = 63.5f;          // amax: d = 63.5 / 127 = 0.5 exactly
        x[1] = -0.25f;         // -0.5 -> -1 (Math.round would give 0)
        x[2] = 0.25f;          // 0.5 -> 1
        x[3] = -63.5f;
        x[4] = 0.74f;          // 1.48 -> 1
        byte[] b = GgmlQuantizer.encode(DType.Q8_0, x, 0, 32);
        assertThat(b).hasSize(34);
        assertThat(Float.float16ToFloat((short) ((b[0] & 0xFF) | (b[1] << 8)))).isEqualTo(0.5f);
        assertThat(new byte[]{b[2], b[3], b[4], b[5], b[6], b[7]}).containsExactly(127, -1, 1, -127, 1, 0);
        assertThat(decode(DType.Q8_0, b, 32)[3]).isEqualTo(-63.5f);
    }

    @Test
    void q4_0UsesTheSignedMaximumAndPacksHalvesInNibbles() {
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = (i % 16) - 8;   // max magnitude -8: d = 1, q = x + 8
        x[31] = 7.6f;                                        // 15.6 + 0.5 -> 16 -> clamped to 15
        byte[] b = GgmlQuantizer.encode(DType.Q4_0, x, 0, 32);
        assertThat(b).hasSize(18);
        assertThat(Float.float16ToFloat((short) ((b[0] & 0xFF) | (b[1] << 8)))).isEqualTo(1f);
        for (int j = 0; j < 16; j++) {
            int lo = b[2 + j] & 0xF, hi = (b[2 + j] >> 4) & 0xF;
            assertThat(lo).as("low nibble %d", j).isEqualTo(j);            // first 16 values
            assertThat(hi).as("high nibble %d", j).isEqualTo(j == 15 ? 15 : j); // last 16 values
        }
        float[] y = decode(DType.Q4_0, b, 32);
        assertThat(y[0]).isEqualTo(-8f);
        assertThat(y[31]).isEqualTo(7f);
        float[] zero = new float[32];
        for (float z : decode(DType.Q4_0, GgmlQuantizer.encode(DType.Q4_0, zero, 0, 32), 32)) assertThat(Math.abs(z)).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "BF16", "F16", "F32"})
    void randomRoundTripStaysWithinHalfAStep(String name) {
        DType t = DType.valueOf(name);
        SplittableRandom r = new SplittableRandom(3);
        int n = 32 * 37;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        float[] y = decode(t, GgmlQuantizer.encode(t, x, 0, n), n);
        for (int blk = 0; blk < n / 32; blk++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j]));
            for (int j = 0; j < 32; j++) {
                int i = blk * 32 + j;
                double bound = switch (t) {
                    case Q8_0 -> amax / 127.0 * 0.5 + amax * 1e-3;     // half a step plus the fp16 scale rounding
                    // a full step: the extreme opposite to the signed maximum maps to 8 and is clamped to 7
                    case Q4_0 -> amax / 8.0 + amax * 2e-3 + 1e-7;
                    case BF16 -> Math.abs(x[i]) / 256.0;
                    case F16 -> Math.abs(x[i]) / 2048.0 + 6e-8;
                    default -> 0;
                };
                assertThat((double) y[i]).as("%s value %d", t, i).isCloseTo(x[i], within(bound));
            }
        }
    }

    @Test
    void q4_KDecodesScalesAndMinsOfBothPackings() {
        byte[] b = new byte[144];
        b[0] = 0x00;
        b[1] = 0x3C;                       // d = 1.0
        b[2] = 0x00;
        b[3] = 0x38;                       // dmin = 0.5
        b[4] = (byte) (3 | (1 << 6));      // scale of sub-block 0 = 3; top bits feed sub-block 4's scale
        b[4 + 4] = (byte) (2 | (2 << 6));  // min of sub-block 0 = 2; top bits feed sub-block 4's min
        b[4 + 8] = (byte) (5 | (6 << 4));  // sub-block 4: scale low 5, min low 6
        b[16] = 0x4A;                      // first byte of quants: low nibble 10 (sub-block 0), high 4 (sub-block 1)
        b[16 + 64] = 0x07;                 // sub-block 4, value 0: nibble 7
        float[] y = decode(DType.Q4_K, b, 256);
        assertThat(y[0]).isEqualTo(1f * 3 * 10 - 0.5f * 2);
        assertThat(y[1]).isEqualTo(-1f);                                   // nibble 0
        assertThat(y[32]).isEqualTo(0f);                                   // sub-block 1: scale 0, min 0
        assertThat(y[128]).isEqualTo(1f * (5 | (1 << 4)) * 7 - 0.5f * (6 | (2 << 4)));
    }

    @Test
    void q6_KDecodesLowAndHighBits() {
        byte[] b = new byte[210];
        b[0] = 0x21;                       // ql[0]: low nibble 1 -> value 0, high nibble 2 -> value 64
        b[128] = 0b0100_0001;              // qh[0]: bits 0-1 = 1 (value 0), bits 4-5 = 0 (value 64), bits 6-7 = 1 (value 96)
        b[192] = 2;                        // scale of values 0..15
        b[192 + 4] = -3;                   // scale of values 64..79
        b[192 + 6] = 4;                    // scale of values 96..111
        b[208] = 0x00;
        b[209] = 0x38;                     // d = 0.5
        float[] y = decode(DType.Q6_K, b, 256);
        assertThat(y[0]).isEqualTo(0.5f * 2 * ((1 | (1 << 4)) - 32));
        assertThat(y[64]).isEqualTo(0.5f * -3 * (2 - 32));
        assertThat(y[96]).isEqualTo(0.5f * 4 * ((0 | (1 << 4)) - 32));
        assertThat(y[1]).isEqualTo(-32f);                                  // scale 2, q = 0 - 32: -32 * 2 * 0.5
    }

    @Test
    void q5_0DecodesTheFifthBitOfBothHalves() {
        byte[] b = new byte[22];
        b[0] = 0x00;
        b[1] = 0x38;                       // d = 0.5
        b[2] = 0b0000_0010;                // qh bit 1: value 1's fifth bit
        b[4] = 0b0000_0100;                // qh bit 18: value 18's fifth bit
        b[6 + 1] = 0x3F;                   // value 1: low nibble 15, value 17: high nibble 3
        b[6 + 2] = (byte) 0xA0;            // value 2: nibble 0, value 18: nibble 10
        float[] y = decode(DType.Q5_0, b, 32);
        assertThat(y[0]).isEqualTo(0.5f * -16);
        assertThat(y[1]).isEqualTo(0.5f * (31 - 16));
        assertThat(y[17]).isEqualTo(0.5f * (3 - 16));
        assertThat(y[2]).isEqualTo(0.5f * -16);
        assertThat(y[18]).isEqualTo(0.5f * (26 - 16));
    }

    @Test
    void q5_KDecodesQ4KScalesAndOneHighBitPerSubBlock() {
        byte[] b = new byte[176];
        b[1] = 0x3C;                       // d = 1.0
        b[3] = 0x38;                       // dmin = 0.5
        b[4] = (byte) (3 | (1 << 6));      // scale of sub-block 0 = 3; top bits feed sub-block 4's scale
        b[4 + 4] = (byte) (2 | (2 << 6));  // min of sub-block 0 = 2; top bits feed sub-block 4's min
        b[4 + 8] = (byte) (5 | (6 << 4));  // sub-block 4: scale low 5, min low 6
        b[4 + 1] = 7;                      // scale of sub-block 1 = 7, min 0
        b[16] = 0b0001_0001;               // qh[0]: fifth bit of value 0 in sub-blocks 0 and 4
        b[16 + 5] = 0b0000_0010;           // qh[5]: fifth bit of value 5 in sub-block 1
        b[48] = 0x4A;                      // qs[0]: low nibble 10 (sub-block 0), high 4 (sub-block 1)
        b[48 + 64] = 0x07;                 // sub-block 4, value 0: nibble 7
        float[] y = decode(DType.Q5_K, b, 256);
        assertThat(y[0]).isEqualTo(1f * 3 * 26 - 0.5f * 2);
        assertThat(y[32]).isEqualTo(7f * 4);
        assertThat(y[32 + 5]).isEqualTo(7f * 16);
        assertThat(y[1]).isEqualTo(-1f);                                   // q 0, min 2 * 0.5
        assertThat(y[128]).isEqualTo(1f * (5 | (1 << 4)) * 23 - 0.5f * (6 | (2 << 4)));
    }

    /** A long run is encoded on every core in pieces; its bytes must be those of the blocks encoded one by one. */
    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q3_K", "IQ4_NL", "IQ4_XS"})
    void aLongRunEncodesAsItsBlocksDoAlone(String name) {
        DType t = DType.valueOf(name);
        int blocks = 3 * 256 + 7; // several pieces and a short last one
        int n = blocks * t.blockSize, off = 5;
        SplittableRandom rnd = new SplittableRandom(42);
        float[] x = new float[off + n];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * (1 + (i / 997) % 5));
        byte[] whole = GgmlQuantizer.encode(t, x, off, n);
        byte[] oneByOne = new byte[whole.length];
        for (int b = 0; b < blocks; b++) {
            byte[] one = GgmlQuantizer.encode(t, x, off + b * t.blockSize, t.blockSize);
            System.arraycopy(one, 0, oneByOne, b * t.blockBytes, t.blockBytes);
        }
        assertThat(whole).isEqualTo(oneByOne);
    }
}
