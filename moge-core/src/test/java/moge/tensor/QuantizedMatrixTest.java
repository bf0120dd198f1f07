package moge.tensor;

import moge.MogeException;
import moge.format.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Quantized matrices: rows against the scalar ggml-layout reference, input checks, repacked size. */
class QuantizedMatrixTest {
    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        int[] rowsList = {1, 3, 6, 13};
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.Q4_1, DType.Q5_1, DType.IQ4_NL}) {
            for (int cols : new int[]{32, 96, 160, 256, 2048 + 32}) {
                for (int rows : rowsList) a.add(Arguments.of(t, rows, cols));
            }
        }
        for (DType t : new DType[]{DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q3_K, DType.Q2_K, DType.IQ4_XS}) {
            for (int cols : new int[]{256, 768, 2304}) {
                for (int rows : rowsList) a.add(Arguments.of(t, rows, cols));
            }
        }
        // Q4_0's tiles of 16 rows (which Q4_K shares), and rows past the last tile
        for (int rows : new int[]{16, 32 + 5}) {
            for (int cols : new int[]{32, 160}) a.add(Arguments.of(DType.Q4_0, rows, cols));
            for (int cols : new int[]{256, 768}) a.add(Arguments.of(DType.Q4_K, rows, cols));
            for (int cols : new int[]{256, 768}) a.add(Arguments.of(DType.Q5_K, rows, cols));
            for (int cols : new int[]{256, 768}) a.add(Arguments.of(DType.Q6_K, rows, cols));
        }
        a.add(Arguments.of(DType.Q4_K, 16 * 70 + 7, 256));
        a.add(Arguments.of(DType.Q5_K, 16 * 70 + 7, 256));
        // enough rows (Q8_0) or tiles (Q4_0) that the repack splits them into runs over the cores, the last run partial
        a.add(Arguments.of(DType.Q8_0, 64 * 5 + 3, 96));
        a.add(Arguments.of(DType.Q4_0, 16 * 130 + 7, 32));
        a.add(Arguments.of(DType.Q5_0, 64 * 5 + 3, 96));
        a.add(Arguments.of(DType.Q5_K, 64 * 5 + 3, 512));
        a.add(Arguments.of(DType.Q6_K, 64 * 5 + 3, 512));
        a.add(Arguments.of(DType.Q5_1, 64 * 5 + 3, 96));
        a.add(Arguments.of(DType.Q3_K, 64 * 5 + 3, 512));
        a.add(Arguments.of(DType.Q2_K, 64 * 5 + 3, 512));
        a.add(Arguments.of(DType.IQ4_XS, 64 * 5 + 3, 512));
        a.add(Arguments.of(DType.IQ4_NL, 64 * 5 + 3, 96));
        return a.stream();
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void rowsMatchReference(DType type, int rows, int cols) {
        MemorySegment raw = QuantTestData.random(type, rows, cols, rows * 31L + cols);
        Matrix m = QuantizedMatrices.create("w", type, rows, cols, raw);
        float[] got = new float[cols + 3];
        for (int r = 0; r < rows; r++) {
            m.row(r, got, 3);
            assertThat(Arrays.copyOfRange(got, 3, cols + 3)).containsExactly(QuantTestData.refRow(type, raw, cols, r));
        }
    }

    @Test
    void activationsRoundToTheQ8Grid() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        int T = 3, cols = 96;
        float[] x = new float[T * cols + 2];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        x[2 + 5] = 0; // a zero value
        for (int i = 64; i < 96; i++) x[2 + i] = 0; // an all-zero block
        float[] g = new Activations().set(x, 2, T, cols).q8Grid();
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < cols / 32; b++) {
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[2 + t * cols + b * 32 + i]));
                float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f)), id = amax == 0 ? 0 : 127f / amax;
                for (int i = 0; i < 32; i++) {
                    int c = t * cols + b * 32 + i;
                    float q = (float) Math.rint(x[2 + c] * id);
                    assertThat(q).isBetween(-127f, 127f);
                    assertThat(g[c]).isEqualTo(d * q);
                    if (amax > 0) assertThat(Math.abs(g[c] - x[2 + c])).isLessThanOrEqualTo(amax / 127 * 0.51f + Math.abs(d - amax / 127) * 127);
                }
            }
        }
    }

    @Test
    void q4KernelInputOnLlamaCppsGridHoldsTheQ8GridInEveryLane() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        int cols = 160;
        float[] x = new float[cols + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        for (int i = 3 + 32; i < 3 + 64; i++) x[i] = 0; // an all-zero block
        x[3 + 70] = 127f; // values that land on .5 before rounding: ties go to even, as Math.rint
        x[3 + 71] = 0.5f;
        x[3 + 72] = 1.5f;
        for (int i = 73; i < 96; i++) x[3 + i] = 0;
        Activations a = new Activations().set(x, 3, 1, cols);
        float[] grid = a.q8Grid().clone();
        Q8Lanes l = a.q8Lanes(true);
        for (int b = 0; b < cols / 32; b++) {
            int sum = 0;
            for (int p = 0; p < 32; p++) {
                int at = b * 32 + p;
                assertThat(l.pairs[at] >> 16).as("both halves of the pair").isEqualTo((int) l.value(at));
                assertThat(l.d[b] * l.value(at)).as("block %d position %d", b, p).isEqualTo(grid[b * 32 + p]);
                sum += l.value(at);
            }
            assertThat(l.corr(b)).isEqualTo((short) (8 * sum));
            assertThat(l.corrs[b] >> 16).isEqualTo((int) l.corr(b));
        }
        assertThat(l.value(2 * 32 + 7)).isEqualTo((short) 0); // 0.5 * 127 / 127 = 0.5 -> 0
        assertThat(l.value(2 * 32 + 8)).isEqualTo((short) 2); // 1.5 -> 2
    }

    @Test
    void q4KernelInputOnTheDefaultGridIsFinerAndFitsTheKernelsSums() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(6);
        int cols = 192;
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        x[40] = 500f; // one large value in block 1
        for (int i = 64; i < 96; i++) x[i] = 0; // an all-zero block
        for (int i = 96; i < 128; i++) x[i] = (i & 1) == 0 ? 3f : -3f; // every value at the block's max
        Activations a = new Activations().set(x, 1, cols);
        float[] llama = a.q8Grid().clone();
        Q8Lanes l = a.q8Lanes(false);
        for (int b = 0; b < cols / 32; b++) {
            int sum = 0, abs = 0;
            double err = 0, llamaErr = 0;
            for (int p = 0; p < 32; p++) {
                int c = b * 32 + p, q = l.value(c);
                assertThat(l.pairs[c] >> 16).as("both halves of the pair").isEqualTo(q);
                assertThat(Math.abs(l.d[b] * q - x[c])).isLessThanOrEqualTo(l.d[b] * 0.5001f);
                sum += q;
                abs += Math.abs(q);
                err += Math.abs(l.d[b] * q - x[c]);
                llamaErr += Math.abs(llama[c] - x[c]);
            }
            // the kernel's 16-bit block sum of (code - 8) * q stays exact
            assertThat(8 * abs).as("block %d", b).isLessThanOrEqualTo(Short.MAX_VALUE);
            assertThat(l.corr(b)).isEqualTo((short) (8 * sum));
            assertThat(err).as("block %d", b).isLessThanOrEqualTo(llamaErr + 1e-6);
        }
        assertThat(l.value(2 * 32)).isEqualTo((short) 0);
        // with one large value, the small ones keep about 32 times more resolution than on llama.cpp's grid
        float llamaStep = 500f / 127, step = l.d[1];
        assertThat(step).isLessThan(llamaStep / 8);
    }

    @Test
    void rejectsRowsThatAreNotWholeBlocks() {
        MemorySegment raw = QuantTestData.random(DType.Q8_0, 1, 64, 1);
        assertThatThrownBy(() -> QuantizedMatrices.create("blk.0.attn_q.weight", DType.Q4_K, 1, 64, raw))
                .isInstanceOf(MogeException.class).hasMessageContaining("blk.0.attn_q.weight").hasMessageContaining("256");
        assertThatThrownBy(() -> QuantizedMatrices.create("w", DType.Q8_0, 2, 64, raw))
                .isInstanceOf(MogeException.class).hasMessageContaining("shorter");
    }

    /** Q4_0 keeps the file's float16 scales and widens them with integer operations: every finite value exactly. */
    @Test
    void q4ScalesKeepEveryFiniteFloat16() {
        // zero, negative zero, the smallest and largest subnormals, the smallest normal, the largest finite, ...
        short[] special = {0x0000, (short) 0x8000, 0x0001, (short) 0x8001, 0x03FF, 0x0400, 0x7BFF, (short) 0xFBFF,
                0x3C00, (short) 0xB800, 0x1234, (short) 0x9234};
        int rows = 2 * 16 + 3, cols = 96, nb = cols / 32; // two tiles (one pair) and three rows past them
        MemorySegment raw = QuantTestData.random(DType.Q4_0, rows, cols, 4);
        for (int i = 0; i < rows * nb; i++) raw.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i * 18L, special[i % special.length]);
        Matrix m = QuantizedMatrices.create("w", DType.Q4_0, rows, cols, raw);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            m.row(r, row, 0);
            assertThat(row).as("row %d", r).containsExactly(QuantTestData.refRow(DType.Q4_0, raw, cols, r));
        }
        for (int T : new int[]{1, 2, 4}) {
            float[] x = QuantTestData.floats(T * cols, 11);
            Activations a = new Activations().set(x, T, cols);
            float[] y = new float[T * rows];
            try (Parallel team = new Parallel(1)) {
                Kernels.matmul(team, m, a, y);
            }
            for (int t = 0; t < T; t++) {
                Q8Lanes l = (T == 1 ? a : a.token(t)).q8Lanes(false);
                for (int r = 0; r < rows; r++) {
                    float[] w = QuantTestData.refRow(DType.Q4_0, raw, cols, r);
                    double ref = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = (double) w[c] * l.d[c / 32] * l.value(c);
                        ref += p;
                        mag += Math.abs(p);
                    }
                    assertThat(Math.abs(y[t * rows + r] - ref)).as("T=%d t=%d r=%d", T, t, r).isLessThanOrEqualTo(2e-5 * mag + 1e-30);
                }
            }
        }
        // an infinite or NaN scale is damaged data, refused with the tensor's name
        for (short bad : new short[]{0x7C00, (short) 0xFC00, 0x7E00}) {
            MemorySegment broken = QuantTestData.random(DType.Q4_0, rows, cols, 5);
            broken.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 18L * (nb * 20 + 1), bad);
            assertThatThrownBy(() -> QuantizedMatrices.create("blk.3.ffn_up.weight", DType.Q4_0, rows, cols, broken))
                    .isInstanceOf(MogeException.class).hasMessageContaining("blk.3.ffn_up.weight").hasMessageContaining("row 20")
                    .hasMessageContaining("non-finite scale");
        }
    }

    @Test
    void reportsTheQuantizedSize() {
        int rows = 64, cols = 2048;
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0}) {
            Matrix m = QuantizedMatrices.create("w", t, rows, cols, QuantTestData.random(t, rows, cols, 9));
            assertThat(m.bytes()).isEqualTo((long) rows * cols / 32 * t.blockBytes);
            // the repacked copies read as many bytes as the file's blocks
            assertThat(m.segment().byteSize()).isEqualTo((long) rows * cols / 32 * t.blockBytes);
        }
        // Q4_K in Q4_0's tiles: 4.625 bits a weight against the file's 4.5 (sc and m per row and block)
        Matrix k = QuantizedMatrices.create("w", DType.Q4_K, rows, cols, QuantTestData.random(DType.Q4_K, rows, cols, 9));
        assertThat(k.bytes()).isEqualTo((long) rows * cols / 256 * 144);
        assertThat(k.segment().byteSize()).isEqualTo((long) rows * cols * 37 / 64);
        // Q6_K in tiles of two signed bytes a short: 8.5625 bits a weight (16 vectors per block of 32 columns, two sc
        // per row and block, d per row and super-block)
        Matrix six = QuantizedMatrices.create("w", DType.Q6_K, rows, cols, QuantTestData.random(DType.Q6_K, rows, cols, 9));
        assertThat(six.bytes()).isEqualTo((long) rows * cols / 256 * 210);
        assertThat(six.segment().byteSize()).isEqualTo((long) rows * cols * 137 / 128);
        // Q5_K in tiles of three codes a short: 6.125 bits a weight (11 vectors per block of 32 columns, sc and m per
        // row and block, d and dmin per row and super-block); Q5_0 widened to Q8_0 (8.5 bits)
        Matrix five = QuantizedMatrices.create("w", DType.Q5_K, rows, cols, QuantTestData.random(DType.Q5_K, rows, cols, 9));
        assertThat(five.type()).isEqualTo(DType.Q5_K);
        assertThat(five.bytes()).isEqualTo((long) rows * cols / 256 * 176);
        assertThat(five.segment().byteSize()).isEqualTo((long) rows * cols * 49 / 64);
        Matrix five0 = QuantizedMatrices.create("w", DType.Q5_0, rows, cols, QuantTestData.random(DType.Q5_0, rows, cols, 9));
        assertThat(five0.type()).isEqualTo(DType.Q5_0);
        assertThat(five0.bytes()).isEqualTo((long) rows * cols / 32 * 22);
        assertThat(five0.segment().byteSize()).isEqualTo((long) rows * cols / 32 * 34);
    }

    /** A row's block with an infinite or NaN d (or dmin, at byte 2) is refused, naming the tensor and the row. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
            "Q4_K, 40, 3, 0, 7C00", "Q4_K, 40, 35, 2, 7C00",   // a row in Q4_0's tiles, and one past them
            "Q5_K, 7, 4, 0, 7E00", "Q5_K, 7, 4, 2, FC00", "Q6_K, 7, 4, 208, FC00", "Q6_K, 40, 3, 208, 7C00", "Q3_K, 7, 4, 108, 7C00",
            "Q3_K, 70, 66, 108, FE00", "Q2_K, 7, 4, 80, 7C00", "Q2_K, 70, 66, 82, FE00", "IQ4_XS, 7, 4, 0, FC00", "IQ4_NL, 7, 4, 0, 7C00", "IQ4_NL, 70, 69, 0, 7E01",
            "Q4_1, 7, 4, 2, 7C00"})
    void aNonFiniteScaleIsRefused(DType type, int rows, int row, int field, String half) {
        int cols = 512;
        MemorySegment broken = QuantTestData.random(type, rows, cols, 5);
        long at = (long) type.blockBytes * ((long) cols / type.blockSize * row + 1) + field; // the row's second block
        broken.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) Integer.parseInt(half, 16));
        assertThatThrownBy(() -> QuantizedMatrices.create("blk.1.attn_q.weight", type, rows, cols, broken))
                .isInstanceOf(MogeException.class).hasMessageContaining("blk.1.attn_q.weight")
                .hasMessageContaining(type + " row " + row).hasMessageContaining("non-finite scale");
    }

    /**
     * With rounded activations, a Q8_0 product is llama.cpp's AVX2 dot product bit for bit (written out here
     * from ggml's description: per block 8 integer lanes of 4 neighbouring products, an FMA with the product of
     * the two fp16 scales, the lanes added pairwise), whatever the batch, split or thread count.
     */
    @ParameterizedTest
    @MethodSource("llamaShapes")
    void q8_0WithRoundedActivationsIsLlamaCppsDotProductExactly(int rows, int cols) {
        org.junit.jupiter.api.Assumptions.assumeTrue(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() == 8,
                "llama.cpp's order is the AVX2 one (8 float lanes)");
        MemorySegment raw = QuantTestData.random(DType.Q8_0, rows, cols, rows * 17L + cols);
        Matrix m = QuantizedMatrices.create("w", DType.Q8_0, rows, cols, raw, true);
        for (int T : new int[]{1, 3, 17}) {
            float[] xs = QuantTestData.floats(1 + T * cols, T * 31L + cols);
            xs[1 + 3] = 0;
            Activations x = new Activations().set(xs, 1, T, cols);
            for (int threads = 1; threads <= 2; threads++) {
                float[] y = new float[T * rows];
                try (Parallel team = new Parallel(threads)) {
                    m.prepare(x);
                    team.forRange(rows, 4, (r0, r1) -> m.matmul(x, y, rows, 0, r0, r1));
                }
                for (int t = 0; t < T; t++) {
                    for (int r = 0; r < rows; r++) {
                        assertThat(y[t * rows + r]).as("T=%d threads=%d t=%d r=%d", T, threads, t, r)
                                .isEqualTo(llamaDot(raw, cols, r, xs, 1 + t * cols));
                    }
                }
            }
        }
    }

    static Stream<Arguments> llamaShapes() {
        return Stream.of(Arguments.of(1, 32), Arguments.of(5, 96), Arguments.of(13, 2048 + 32), Arguments.of(40, 160));
    }

    private static float llamaDot(MemorySegment raw, int cols, int r, float[] x, int xo) {
        int nb = cols / 32;
        float[] acc = new float[8];
        for (int b = 0; b < nb; b++) {
            // quantize_row_q8_0: d = amax / 127 kept as fp16, q = round-half-even(x * 127 / amax)
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[xo + 32 * b + i]));
            float dx = Float.float16ToFloat(Float.floatToFloat16(amax / 127f)), id = amax != 0 ? 127f / amax : 0f;
            long blk = ((long) r * nb + b) * 34;
            float d = Float.float16ToFloat(raw.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, blk)) * dx;
            for (int m = 0; m < 8; m++) {
                int isum = 0;
                for (int k = 0; k < 4; k++) {
                    int i = 4 * m + k;
                    int q = (int) Math.rint(x[xo + 32 * b + i] * id);
                    isum += raw.get(java.lang.foreign.ValueLayout.JAVA_BYTE, blk + 2 + i) * q;
                }
                acc[m] = Math.fma(d, (float) isum, acc[m]);
            }
        }
        return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }

    /** Hand-made Q4_1 and Q5_1 blocks pin ggml's layout (d, m, then Q5_1's fifth bits, then the nibbles) without the reference. */
    @Test
    void q4_1AndQ5_1BlocksByHand() {
        // d = 0.5, m = -1; nibbles of byte 0: low 1 (value 0), high 2 (value 16); Q5_1: fifth bits of values 0 and 17
        byte[] q41 = new byte[20], q51 = new byte[24];
        for (byte[] b : new byte[][]{q41, q51}) {
            b[0] = 0x00;
            b[1] = 0x38;
            b[2] = 0x00;
            b[3] = (byte) 0xBC;
        }
        q41[4] = 0x21;
        q51[4] = 0x01;             // qh bit 0
        q51[6] = 0x02;             // qh bit 17
        q51[8] = 0x21;
        float[] four = new float[32], five = new float[32];
        QuantizedMatrices.create("w", DType.Q4_1, 1, 32, MemorySegment.ofArray(q41)).row(0, four, 0);
        QuantizedMatrices.create("w", DType.Q5_1, 1, 32, MemorySegment.ofArray(q51)).row(0, five, 0);
        assertThat(four[0]).isEqualTo(-0.5f);   // 1 * 0.5 - 1
        assertThat(four[16]).isEqualTo(0f);     // 2 * 0.5 - 1
        assertThat(four[1]).isEqualTo(-1f);
        assertThat(five[0]).isEqualTo(7.5f);    // (1 | 16) * 0.5 - 1
        assertThat(five[16]).isEqualTo(0f);     // 2 * 0.5 - 1, no fifth bit
        assertThat(five[17]).isEqualTo(7f);     // (0 | 16) * 0.5 - 1
        assertThat(five[1]).isEqualTo(-1f);
        float[] ref = new float[32];
        GgmlQuants.dequantize(DType.Q5_1, MemorySegment.ofArray(q51), 0, ref, 0, 32);
        assertThat(ref).containsExactly(five);
    }
}
