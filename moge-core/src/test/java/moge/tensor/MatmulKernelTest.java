package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every storage format's products (decode matrix-vector for one token, the tiled matrix-matrix for more)
 * against the plain reference (rows decoded by scalar code, summed in float64) on awkward sizes, thread
 * counts, row splits, output strides and offsets.
 */
class MatmulKernelTest {
    static Stream<Arguments> shapes() {
        List<Arguments> a = new ArrayList<>();
        int[] rowsList = {1, 3, 6, 13};
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (int cols : new int[]{1, 7, 33, 100, 2048 + 5}) {
                for (int rows : rowsList) a.add(Arguments.of(t, rows, cols, false));
            }
        }
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.IQ4_NL}) {
            for (int cols : new int[]{32, 96, 160, 256, 2048 + 32}) {
                for (int rows : rowsList) {
                    a.add(Arguments.of(t, rows, cols, true));
                    a.add(Arguments.of(t, rows, cols, false));
                }
            }
        }
        // Q8_0's one-token kernel runs 64 rows at a time (short rows summed after their run): several runs and a part
        for (int rows : new int[]{64 + 13, 128 + 4}) {
            for (int cols : new int[]{96, 256, 2048 + 32}) a.add(Arguments.of(DType.Q8_0, rows, cols, false));
        }
        // Q4_0 holds rows in tiles of 16 and runs two tiles per pass: whole tiles, pairs, and rows past them
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{32, 160, 2048 + 32}) a.add(Arguments.of(DType.Q4_0, rows, cols, false));
        }
        for (DType t : new DType[]{DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q3_K, DType.Q2_K, DType.IQ4_XS}) {
            for (int cols : new int[]{256, 768, 2304}) {
                for (int rows : rowsList) a.add(Arguments.of(t, rows, cols, false));
            }
        }
        // Q4_1 and Q5_1 in Q5_K's affine runs: rows of any number of 32-value blocks
        for (DType t : new DType[]{DType.Q4_1, DType.Q5_1}) {
            for (int cols : new int[]{32, 96, 160, 2048 + 32}) {
                for (int rows : rowsList) a.add(Arguments.of(t, rows, cols, false));
            }
        }
        // Q4_K in Q4_0's tiles: whole tiles, pairs, rows past them, and llama.cpp's activation grid
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{256, 2048 + 256}) a.add(Arguments.of(DType.Q4_K, rows, cols, false));
        }
        a.add(Arguments.of(DType.Q4_K, 32 + 3, 512, true));
        // Q5_K in tiles of 16 rows, two per pass: the same shapes, and llama.cpp's grid (which goes through the GEMM)
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{256, 2048 + 256}) a.add(Arguments.of(DType.Q5_K, rows, cols, false));
        }
        a.add(Arguments.of(DType.Q5_K, 32 + 3, 512, true));
        a.add(Arguments.of(DType.Q5_K, 1, 256, true));
        // Q3_K in tiles of 16 rows, two per pass, likewise
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{256, 2048 + 256}) a.add(Arguments.of(DType.Q3_K, rows, cols, false));
        }
        a.add(Arguments.of(DType.Q3_K, 32 + 3, 512, true));
        a.add(Arguments.of(DType.Q3_K, 1, 256, true));
        // Q2_K in tiles of 16 rows, two per pass, likewise
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{256, 2048 + 256}) a.add(Arguments.of(DType.Q2_K, rows, cols, false));
        }
        a.add(Arguments.of(DType.Q2_K, 32 + 3, 512, true));
        a.add(Arguments.of(DType.Q2_K, 1, 256, true));
        // Q6_K in tiles of 16 rows, two per pass, likewise (its integer kernels serve llama.cpp's grid too)
        for (int rows : new int[]{16, 32, 48, 16 + 5, 64 + 13}) {
            for (int cols : new int[]{256, 2048 + 256}) a.add(Arguments.of(DType.Q6_K, rows, cols, false));
        }
        a.add(Arguments.of(DType.Q6_K, 32 + 3, 512, true));
        a.add(Arguments.of(DType.Q6_K, 1, 256, true));
        // past one chunk of DecodedPanels, the last one partial and not whole panels of 4 rows
        for (DType t : new DType[]{DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q5_0, DType.Q5_1, DType.Q3_K, DType.Q2_K, DType.IQ4_XS, DType.IQ4_NL}) {
            a.add(Arguments.of(t, 2 * DecodedPanels.rows(256) + 5, 256, false));
        }
        a.add(Arguments.of(DType.Q8_0, 2 * DecodedPanels.rows(2048 + 32) + 5, 2048 + 32, true));
        // rows so long that a chunk holds fewer rows than the most (64 at 8448 columns)
        a.add(Arguments.of(DType.Q4_K, 2 * DecodedPanels.rows(8448) + 5, 8448, false));
        return a.stream();
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void matmulMatchesReference(DType type, int rows, int cols, boolean round) {
        MemorySegment raw = QuantTestData.random(type, rows, cols, rows * 7L + cols);
        Matrix m = make(type, rows, cols, raw, round);
        double[][] w = new double[rows][];
        for (int r = 0; r < rows; r++) {
            float[] f = QuantTestData.refRow(type, raw, cols, r);
            w[r] = new double[cols];
            for (int c = 0; c < cols; c++) w[r][c] = f[c];
        }
        // Q4_0 runs up to 128 tokens through its integer kernels, more through the GEMM; past one group of the
        // GEMM's tokens quantized weights are decoded once for all groups (DecodedPanels)
        int many = Gemm.GROUP + 7;
        boolean q4 = type == DType.Q4_0 || type == DType.Q4_K; // Q4_K runs in Q4_0's tiles
        boolean q5 = type == DType.Q5_0 || type == DType.Q5_K || type == DType.Q4_1 || type == DType.Q5_1;
        int[] counts = q4 ? new int[]{1, 3, 5, 6, 17, 64, Q4_0Matrix.FEW_TOKENS + 3}
                : q5 ? new int[]{1, 3, 5, 16, 70, many} : new int[]{1, 3, 5, 6, 17, 64, many};
        for (int T : counts) {
            int xOff = 5;
            float[] xs = QuantTestData.floats(xOff + T * cols, T * 1000L + cols);
            Activations x = new Activations().set(xs, xOff, T, cols);
            // with rounding, the reference multiplies the same weights with the activations on the Q8_0 grid;
            // Q4_0's single-token kernel multiplies integers, on a grid of its own by default
            float[] xr = round ? x.q8Grid().clone() : java.util.Arrays.copyOfRange(xs, xOff, xOff + T * cols);
            if (q4 && !round && T <= Q4_0Matrix.FEW_TOKENS) xr = q4Grid(x);
            // and Q4_0 past them as well, at 512 bits (ShortGemm)
            if (type == DType.Q4_0 && !round && ShortGemm.ON) xr = q4Grid(x);
            // Q8_0 (and Q5_0, IQ4_NL, loaded as Q8_0) multiplies int8 activations up to its few tokens, the GEMM floats
            boolean q8 = type == DType.Q8_0 || type == DType.Q5_0 || type == DType.IQ4_NL;
            if (q8 && !round && T <= Q8_0Matrix.FEW_TOKENS) xr = x.q8IntGrid();
            // a few tokens, one at a time: Q5_K's integer grid, and Q3_K's (Q2_K's)
            if (type == DType.Q5_K && !round && T <= Q5KMatrix.FEW_TOKENS) xr = tokenGrids(x, Activations::q5Lanes);
            if (type == DType.Q3_K && !round && T <= Q3KMatrix.FEW_TOKENS) xr = tokenGrids(x, Activations::q3Lanes);
            if (type == DType.Q2_K && !round && T <= Q2KMatrix.FEW_TOKENS) xr = tokenGrids(x, Activations::q3Lanes);
            // Q6_K's integer grid (llama.cpp's int8 one with rounding)
            if (type == DType.Q6_K && T <= Q6KTileMatrix.FEW_TOKENS) xr = tokenGrids(x, a -> a.q6Lanes(round));
            // a wider output with an offset, as the MoE and fused q/k/v products use it
            int yStride = rows + 7, yOff = 3;
            for (int threads = 1; threads <= 2; threads++) {
                float[] y = new float[T * yStride + 8];
                Arrays.fill(y, Float.NaN);
                try (Parallel team = new Parallel(threads)) {
                    m.prepare(x);
                    team.forRange(rows, 4, (r0, r1) -> m.matmul(x, y, yStride, yOff, r0, r1));
                }
                for (int t = 0; t < T; t++) {
                    for (int r = 0; r < rows; r++) {
                        double ref = 0, mag = 0;
                        for (int c = 0; c < cols; c++) {
                            double p = w[r][c] * xr[t * cols + c];
                            ref += p;
                            mag += Math.abs(p);
                        }
                        float got = y[t * yStride + yOff + r];
                        assertThat(Math.abs(got - ref)).as("%s T=%d threads=%d t=%d r=%d", type, T, threads, t, r)
                                .isLessThanOrEqualTo(2e-5 * mag + 1e-6);
                    }
                    // untouched around the written rows
                    if (t * yStride + yOff - 1 >= 0) assertThat(y[t * yStride + yOff - 1]).isNaN();
                    assertThat(y[t * yStride + yOff + rows]).isNaN();
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void resultsDoNotDependOnTheSplitOrTheBatch(DType type, int rows, int cols, boolean round) {
        Matrix m = make(type, rows, cols, QuantTestData.random(type, rows, cols, rows * 3L + cols), round);
        int T = 19;
        float[] xs = QuantTestData.floats(T * cols, cols);
        float[] whole = run(m, new Activations().set(xs, T, cols), 1);
        assertThat(run(m, new Activations().set(xs, T, cols), 2)).containsExactly(whole);
        // split into uneven row ranges by hand (multiples of 4, as Kernels aligns them)
        float[] parts = new float[T * rows];
        Activations x = new Activations().set(xs, T, cols);
        m.prepare(x);
        for (int r0 = 0; r0 < rows; r0 += 8) m.matmul(x, parts, rows, 0, r0, Math.min(rows, r0 + 8));
        assertThat(parts).containsExactly(whole);
        // and at odd rows, for a few tokens (two and three: Q8_0's last-tokens kernels take quads and row pairs)
        for (int n : new int[]{2, 3, 6}) {
            Activations xn = new Activations().set(xs, n, cols);
            float[] rowsN = run(m, xn, 1), odd = new float[n * rows];
            m.prepare(xn);
            for (int r0 = 0; r0 < rows; r0 += 5) m.matmul(xn, odd, rows, 0, r0, Math.min(rows, r0 + 5));
            assertThat(odd).as("%d tokens, rows split every 5", n).containsExactly(rowsN);
        }
        // the first tokens alone give the same rows as inside the bigger batch: within the few-token kernels
        // (verification, batched decode) and within the panel GEMM, both batches past Q8_0's few-token kernels
        // and BF16's token lanes (up to 48) so that they take the same path (Q4_0's integer kernels, up to 128)
        int some = 49;
        float[] xm = QuantTestData.floats((some + 2) * cols, cols + 1);
        float[] more = run(m, new Activations().set(xm, some + 2, cols), 1);
        float[] first = run(m, new Activations().set(xm, some, cols), 2);
        assertThat(first).containsExactly(Arrays.copyOf(more, some * rows));
        // a few tokens: Q4_0 runs them through integer sums, exact, and Q8_0 through kernels that sum each token as its
        // single-token pass does (their GEMM decodes whole panels), so each equals that token alone; the float
        // formats give the rows of a bigger batch in the same kernels (BF16 takes 14 tokens and more, 9 at 512
        // bits, in the token-lane product, which sums as the GEMM does: Bf16TokenLanesTest)
        float[] sameKernels = type == DType.BF16 ? run(m, new Activations().set(xs, BF16Matrix.LANES_FROM - 1, cols), 1) : whole;
        // up to how many tokens each token gets exactly its single-token result: Q5_0 and IQ4_NL run as Q8_0; F16
        // converts each weight once for up to four tokens, each summed in its single-token order;
        // Q6_K's float runs (IQ4_XS, Q4_1, Q5_1) and the 16-row K-quant tiles take a few tokens one at a time,
        // except with llama.cpp's activation grid (round), where the K-quant tiles but Q6_K's take the GEMM
        int aloneUpTo = switch (type) {
            case Q4_0, Q8_0, Q5_0, IQ4_NL -> Q8_0Matrix.FEW_TOKENS;
            case IQ4_XS, Q4_1, Q5_1 -> ByteRunsMatrix.FEW_TOKENS;
            case Q6_K -> Q6KTileMatrix.FEW_TOKENS;
            case Q5_K -> round ? 0 : Q5KMatrix.FEW_TOKENS;
            case Q3_K -> round ? 0 : Q3KMatrix.FEW_TOKENS;
            case Q2_K -> round ? 0 : Q2KMatrix.FEW_TOKENS;
            case F16 -> F16Matrix.FEW_TOKENS;
            default -> 0;
        };
        for (int n : new int[]{2, 3, 4, 5, 6, 7, 8, 9, 12, 13}) {
            if (n > aloneUpTo && n != 3) continue;
            float[] few = run(m, new Activations().set(xs, n, cols), 2);
            if (n <= aloneUpTo) {
                for (int t = 0; t < n; t++) {
                    float[] alone = run(m, new Activations().set(xs, t * cols, 1, cols), 1);
                    assertThat(Arrays.copyOfRange(few, t * rows, (t + 1) * rows)).as("%d tokens, token %d", n, t).containsExactly(alone);
                }
            } else {
                assertThat(few).containsExactly(Arrays.copyOf(sameKernels, 3 * rows));
            }
        }
        int big = FewTokens.MAX + 9;
        float[] xb = QuantTestData.floats((big + 11) * cols, cols);
        float[] bigger = run(m, new Activations().set(xb, big + 11, cols), 2);
        assertThat(run(m, new Activations().set(xb, big, cols), 1)).containsExactly(Arrays.copyOf(bigger, big * rows));
        if (type == DType.Q4_0) { // up to FEW_TOKENS tokens each gets its single-token result
            for (int t : new int[]{0, 37, big + 10}) {
                float[] alone = run(m, new Activations().set(xb, t * cols, 1, cols), 1);
                assertThat(Arrays.copyOfRange(bigger, t * rows, (t + 1) * rows)).as("%d tokens, token %d", big + 11, t).containsExactly(alone);
            }
        }
        if (type == DType.Q4_0) { // past FEW_TOKENS, the GEMM: rows of a bigger batch again
            int g = Q4_0Matrix.FEW_TOKENS + 3;
            float[] xg = QuantTestData.floats((g + 9) * cols, cols + 2);
            float[] gBigger = run(m, new Activations().set(xg, g + 9, cols), 2);
            assertThat(run(m, new Activations().set(xg, g, cols), 1)).containsExactly(Arrays.copyOf(gBigger, g * rows));
        }
        // single tokens too (the decode kernel), whatever the split
        float[] one = run(m, new Activations().set(xs, 1, cols), 1);
        assertThat(run(m, new Activations().set(xs, 1, cols), 2)).containsExactly(one);
    }

    /**
     * The panel GEMM holds finished results in blocks of {@link Gemm#OUT_ROWS} rows before they go to y: row
     * ranges that start and end inside blocks, several blocks, short rows (row order) and long ones (k order),
     * more than one group of tokens, tiles in pairs and alone; every result against float64, nothing written outside
     * the range.
     */
    @ParameterizedTest
    // at 512 bits tiles run in pairs (Gemm.kernel2): 120 and 250 tokens end in a pair whose second tile is partial
    @org.junit.jupiter.params.provider.CsvSource({"F32,150,96,70", "F32,150,2050,70", "F32,150,2050,120", "Q4_0,150,192,140", "Q4_0,150,2048,140",
            "Q4_0,300,2048,140", "Q4_0,150,2048,250", "BF16,75,1030,66"})
    void gemmWritesEveryRowRange(DType type, int rows, int cols, int T) {
        MemorySegment raw = QuantTestData.random(type, rows, cols, rows + cols);
        Matrix m = make(type, rows, cols, raw, false);
        float[] xs = QuantTestData.floats(T * cols, T + cols);
        Activations x = new Activations().set(xs, T, cols);
        // Q4_0 at 512 bits takes ShortGemm, which multiplies the tokens on the decode kernels' grid
        float[] xr = type == DType.Q4_0 && ShortGemm.ON ? q4Grid(x) : xs;
        int yStride = rows + 5, yOff = 2;
        int[][] ranges = {{0, rows}, {0, 44}, {44, 101}, {101, rows}, {3, 38}, {37, 70}};
        for (int[] range : ranges) {
            if (range[0] >= rows) continue;
            float[] y = new float[T * yStride];
            Arrays.fill(y, Float.NaN);
            m.prepare(x);
            m.matmul(x, y, yStride, yOff, range[0], Math.min(rows, range[1]));
            for (int t = 0; t < T; t++) {
                for (int r = -yOff; r < yStride - yOff; r++) {
                    float got = y[t * yStride + yOff + r];
                    if (r < range[0] || r >= Math.min(rows, range[1])) {
                        assertThat(got).as("%s rows %s t=%d r=%d outside", type, Arrays.toString(range), t, r).isNaN();
                        continue;
                    }
                    float[] w = QuantTestData.refRow(type, raw, cols, r);
                    double ref = 0, mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = (double) w[c] * xr[t * cols + c];
                        ref += p;
                        mag += Math.abs(p);
                    }
                    assertThat(Math.abs(got - ref)).as("%s rows %s t=%d r=%d", type, Arrays.toString(range), t, r)
                            .isLessThanOrEqualTo(2e-5 * mag + 1e-6);
                }
            }
        }
    }

    /** A long prompt's token-major tiles are transposed by the team (Activations.team): the same products as on one thread. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"F32,false", "Q8_0,true", "Q8_0,false"})
    void tilesTransposedByTheTeamGiveTheSameProducts(DType type, boolean round) {
        int rows = 40, cols = 2048 + 32, T = 150; // a partial last tile
        assertThat((long) T * cols).as("enough to go to the team").isGreaterThanOrEqualTo(Parallel.INLINE_COST);
        Matrix m = make(type, rows, cols, QuantTestData.random(type, rows, cols, 11), round);
        float[] xs = QuantTestData.floats(T * cols, 12);
        float[] two = run(m, new Activations().set(xs, T, cols), 2);
        assertThat(two).containsExactly(run(m, new Activations().set(xs, T, cols), 1));
        assertThat(two).doesNotContain(Float.NaN);
    }

    /** The values Q4_0's single-token kernel multiplies with by default, token by token. */
    private static float[] q4Grid(Activations x) {
        return tokenGrids(x, a -> a.q8Lanes(false));
    }

    /** Each token's values on the integer grid {@code form} gives it alone. */
    private static float[] tokenGrids(Activations x, java.util.function.Function<Activations, Q8Lanes> form) {
        int cols = x.cols();
        float[] g = new float[x.tokens() * cols];
        for (int t = 0; t < x.tokens(); t++) {
            System.arraycopy(grid(form.apply(x.tokens() == 1 ? x : x.token(t)), cols), 0, g, t * cols, cols);
        }
        return g;
    }

    /** The values an integer activation form stands for: d * q per block. */
    static float[] grid(Q8Lanes l, int cols) {
        float[] g = new float[cols];
        for (int c = 0; c < cols; c++) g[c] = l.d[c / 32] * l.value(c);
        return g;
    }

    private static Matrix make(DType type, int rows, int cols, MemorySegment raw, boolean round) {
        return type.quantized() ? QuantizedMatrices.create("w", type, rows, cols, raw, round) : Matrix.of("w", type, rows, cols, raw);
    }

    private static float[] run(Matrix m, Activations x, int threads) {
        float[] y = new float[x.tokens() * m.rows];
        try (Parallel team = new Parallel(threads)) {
            Kernels.matmul(team, m, x, y);
        }
        return y;
    }
}
