package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hand-made Q3_K, Q2_K, IQ4_NL and IQ4_XS blocks: each field set by hand from ggml's block layout, so the repacked rows
 * and the reference decoder are both pinned to the format rather than only to each other; and the size each
 * representation takes.
 */
class LowBitBlocksTest {
    private static float[] row(DType t, byte[] block) {
        float[] got = new float[t.blockSize], ref = new float[t.blockSize];
        QuantizedMatrices.create("w", t, 1, t.blockSize, MemorySegment.ofArray(block)).row(0, got, 0);
        GgmlQuants.dequantize(t, MemorySegment.ofArray(block), 0, ref, 0, t.blockSize);
        assertThat(got).as("%s repacked row against the reference", t).containsExactly(ref);
        return got;
    }

    @Test
    void q3_KBlockByHand() {
        byte[] b = new byte[110];
        b[108] = 0x00;
        b[109] = 0x38;                // d = 0.5
        // scales (12 bytes at 96): scale i/16 has its low nibble in byte i%8 (high nibble for i >= 8) and its top
        // two bits at bit 2(i/4) of byte 8 + i%4
        b[96] = (byte) 0x81;          // scale 0 low 1, scale 8 low 8
        b[97] = 0x0E;                 // scale 1 low 14
        b[104] = 0x22;                // scale 0 top 2 (33 -> +1), scale 8 top 2 (40 -> +8)
        b[105] = 0x01;                // scale 1 top 1 (30 -> -2); scale 13 top 0 (0 -> -32)
        b[106] = 0x0C;                // scale 6 top 3 (48 -> +16); scale 2 stays 0 (-32)
        // qs (64 bytes at 32): value i's two low bits at bits 2((i%128)/32) of qs[32(i/128) + i%32];
        // hmask (32 bytes at 0): its third bit is bit i/32 of hmask[i%32], clear meaning -4
        b[32] = 0x43;                 // value 0: 3, value 96: 1
        b[48] = 0x01;                 // value 16: 1
        b[69] = 0x02;                 // value 133: 2
        b[82] = 0x30;                 // value 210: 3
        b[0] = 0x01;                  // value 0 keeps its 3; value 96 (bit 3) is 1 - 4
        b[5] = 0x10;                  // value 133 (bit 4)
        b[18] = 0x40;                 // value 210 (bit 6)
        float[] v = row(DType.Q3_K, b);
        assertThat(v[0]).isEqualTo(1.5f);      // 0.5 * 1 * 3
        assertThat(v[1]).isEqualTo(-2f);       // 0.5 * 1 * (0 - 4)
        assertThat(v[16]).isEqualTo(3f);       // 0.5 * -2 * (1 - 4)
        assertThat(v[40]).isEqualTo(64f);      // 0.5 * -32 * (0 - 4)
        assertThat(v[96]).isEqualTo(-24f);     // 0.5 * 16 * (1 - 4)
        assertThat(v[133]).isEqualTo(8f);      // 0.5 * 8 * 2
        assertThat(v[210]).isEqualTo(-48f);    // 0.5 * -32 * 3
    }

    @Test
    void q2_KBlockByHand() {
        byte[] b = new byte[84];
        b[81] = 0x38;                 // d = 0.5
        b[83] = 0x34;                 // dmin = 0.25
        // scales (16 bytes at 0): group i/16's scale in the low nibble, its min in the high one
        b[0] = 0x21;                  // group 0: sc 1, m 2
        b[1] = 0x0F;                  // group 1: sc 15, m 0
        b[6] = (byte) 0xF3;           // group 6: sc 3, m 15
        b[13] = 0x5A;                 // group 13: sc 10, m 5
        // qs (64 bytes at 16): value i's code at bits 2((i%128)/32) of qs[32(i/128) + i%32]
        b[16] = (byte) 0x83;          // value 0: 3, value 96: 2
        b[32] = 0x01;                 // value 16: 1
        b[24] = 0x0C;                 // value 40: 3 (group 2, scale and min 0)
        b[66] = 0x30;                 // value 210: 3
        float[] v = row(DType.Q2_K, b);
        assertThat(v[0]).isEqualTo(1f);        // 0.5 * 1 * 3 - 0.25 * 2
        assertThat(v[1]).isEqualTo(-0.5f);     // 0.5 * 1 * 0 - 0.25 * 2
        assertThat(v[16]).isEqualTo(7.5f);     // 0.5 * 15 * 1 - 0
        assertThat(v[40]).isEqualTo(0f);
        assertThat(v[96]).isEqualTo(-0.75f);   // 0.5 * 3 * 2 - 0.25 * 15
        assertThat(v[210]).isEqualTo(13.75f);  // 0.5 * 10 * 3 - 0.25 * 5
        assertThat(v[211]).isEqualTo(-1.25f);  // 0.5 * 10 * 0 - 0.25 * 5
    }

    @Test
    void iq4_NLBlockByHand() {
        byte[] b = new byte[18];
        b[1] = 0x38;                  // d = 0.5
        b[2] = (byte) 0xF0;           // value 0: level 0 (-127), value 16: level 15 (113)
        b[3] = 0x78;                  // value 1: level 8 (1), value 17: level 7 (-10)
        float[] v = row(DType.IQ4_NL, b);
        assertThat(v[0]).isEqualTo(-63.5f);
        assertThat(v[16]).isEqualTo(56.5f);
        assertThat(v[1]).isEqualTo(0.5f);
        assertThat(v[17]).isEqualTo(-5f);
        assertThat(v[2]).isEqualTo(-63.5f);
    }

    @Test
    void iq4_XSBlockByHand() {
        byte[] b = new byte[136];
        b[1] = 0x34;                  // d = 0.25
        b[2] = 0x08;                  // scales_h: block 1's top bits 2 (bits 2-3)
        b[3] = (byte) 0xC0;           //           block 7's top bits 3 (bits 14-15)
        b[4] = 0x30;                  // scales_l[0]: block 0 low 0 (ls 0 -> -32), block 1 low 3 (ls 35 -> +3)
        b[7] = (byte) 0xF0;           // scales_l[3]: block 7 low 15 (ls 63 -> +31)
        b[24] = 0x1E;                 // block 1 (qs at 8 + 16): value 32 level 14 (89), value 48 level 1 (-104)
        b[135] = (byte) 0x9F;         // block 7: value 239 level 15 (113), value 255 level 9 (13)
        float[] v = row(DType.IQ4_XS, b);
        assertThat(v[0]).isEqualTo(1016f);     // 0.25 * -32 * -127
        assertThat(v[32]).isEqualTo(66.75f);   // 0.25 * 3 * 89
        assertThat(v[48]).isEqualTo(-78f);     // 0.25 * 3 * -104
        assertThat(v[239]).isEqualTo(875.75f); // 0.25 * 31 * 113
        assertThat(v[255]).isEqualTo(100.75f); // 0.25 * 31 * 13
    }

    @Test
    void repackedSizes() {
        int rows = 64, cols = 2048;
        for (DType t : new DType[]{DType.Q3_K, DType.Q2_K, DType.IQ4_XS, DType.IQ4_NL}) {
            Matrix m = QuantizedMatrices.create("w", t, rows, cols, QuantTestData.random(t, rows, cols, 9));
            assertThat(m.type()).isEqualTo(t);
            assertThat(m.bytes()).as("%s: the file's size", t).isEqualTo((long) rows * cols / t.blockSize * t.blockBytes);
            // IQ4_XS in whole-byte runs (32 codes and two floats per 32 values), IQ4_NL as Q8_0 blocks, Q3_K in tiles of
            // 16 rows (per row and 32 values 7 shorts of codes and two bytes of scales, per 256 an fp16 d: 4.0625 bits)
            long repacked = switch (t) {
                case IQ4_NL -> (long) rows * cols / 32 * 34;
                case Q3_K -> (long) rows * (cols / 32 * 16 + cols / 256 * 2);
                // Q2_K in tiles: per row and 32 values 4 shorts of codes and two bytes of scales and mins, per 256
                // an fp16 d and dmin: 2.625 bits, the file's 84 bytes per 256
                case Q2_K -> (long) rows * cols / 256 * 84;
                default -> (long) rows * cols / 32 * 40;
            };
            assertThat(m.segment().byteSize()).as("%s repacked", t).isEqualTo(repacked);
        }
    }
}
