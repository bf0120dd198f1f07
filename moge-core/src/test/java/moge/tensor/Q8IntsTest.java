package moge.tensor;

import moge.format.DType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Q8_0's integer activations: the grid's bounds, its error, its order for the one-token kernel, and no overflow. */
class Q8IntsTest {
    private static final int L = Q8_0Matrix.L;

    /** Blocks that stress the grid: random, one outlier, equal values, zeros, tiny and huge magnitudes. */
    private static float[] awkward(int tokens, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[tokens * cols];
        for (int b = 0; b < x.length / 32; b++) {
            int kind = b % 7;
            for (int i = 0; i < 32; i++) {
                float v = (float) r.nextGaussian();
                x[b * 32 + i] = switch (kind) {
                    case 0 -> v;
                    case 1 -> i == 5 ? 1000f : v * 0.01f;
                    case 2 -> -3.25f;
                    case 3 -> 0f;
                    case 4 -> v * 1e-30f;
                    case 5 -> v * 1e-40f; // subnormal: 254 / max overflows
                    default -> v * 1e30f;
                };
            }
        }
        return x;
    }

    @Test
    void gridStaysWithinThe16BitBudgetAndHalfAStep() {
        int T = 3, cols = 4 * 64 + 32; // whole groups and a tail block
        float[] x = awkward(T, cols, 1);
        Q8Ints a = new Activations().set(x, T, cols).q8Ints(false);
        float[] llama = new Activations().set(x, T, cols).q8Grid();
        for (int b = 0; b < T * cols / 32; b++) {
            float d = a.d[b], amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]));
            assertThat(d).as("block %d never coarser than llama.cpp's", b).isLessThanOrEqualTo(amax / 127f * (1 + 1e-6f));
            for (int i = 0; i < 32; i++) {
                float q = a.q[b * 32 + i];
                assertThat(q).isEqualTo((float) Math.rint(q));
                assertThat(Math.abs(q)).isLessThanOrEqualTo(255f);
                // half a step off at most; a block too small for the grid (below ~1e-36) counts as zeros
                double off = Math.abs(x[b * 32 + i] - d * q);
                assertThat(off).as("block %d value %d", b, i).isLessThanOrEqualTo(d == 0 ? 1e-36 : 0.5001 * d);
                if (Q8Ints.paired(i)) {
                    assertThat(Math.abs(q) + Math.abs(a.q[b * 32 + i + Q8Ints.PARTNER])).as("block %d pair %d", b, i).isLessThanOrEqualTo(255f);
                }
            }
        }
        // llama.cpp's grid gives q8Grid's values (where they are numbers: its fp16 scale overflows on the 1e30 blocks)
        Q8Ints l = new Activations().set(x, T, cols).q8Ints(true);
        for (int i = 0; i < T * cols; i++) {
            if (!Float.isNaN(llama[i])) assertThat(l.q[i] * l.d[i / 32]).as("value %d", i).isEqualTo(llama[i]);
        }
    }

    @Test
    void everyValueHasOnePartner() {
        int partners = 0;
        for (int i = 0; i < 32; i++) {
            if (Q8Ints.paired(i)) {
                assertThat(Q8Ints.paired(i + Q8Ints.PARTNER)).isFalse();
                partners += 2;
            }
        }
        assertThat(partners).isEqualTo(32);
    }

    /** The shorts pair with the weight bytes of Q8Interleave's order, and g holds q in the float kernels' order. */
    @Test
    void shortsAndKernelOrderFollowTheWeightBytes() {
        if (!Q8_0Matrix.FAST) return;
        int T = 2, cols = 3 * Q8_0Matrix.G + 32, G = Q8_0Matrix.G;
        Q8Ints a = new Activations().set(awkward(T, cols, 2), T, cols).q8Ints(false);
        int per = Q8Ints.perToken(cols);
        for (int t = 0; t < T; t++) {
            for (int g = 0; g < cols / G; g++) {
                int c = t * cols + g * G;
                for (int j = 0; j < L; j++) {
                    for (int h = 0; h < 2; h++) {
                        int s = t * per + g * 2 * L + 2 * j + h;
                        assertThat((float) a.lo[s]).isEqualTo(a.q[c + Q8Interleave.valueOf(j, 2 * h)]);
                        assertThat((float) a.hi[s]).isEqualTo(a.q[c + Q8Interleave.valueOf(j, 2 * h + 1)]);
                    }
                    for (int k = 0; k < 4; k++) assertThat(a.g[c + k * L + j]).isEqualTo(a.q[c + Q8Interleave.valueOf(j, k)]);
                }
            }
            for (int c = cols / G * G; c < cols; c++) assertThat(a.g[t * cols + c]).as("tail").isEqualTo(a.q[t * cols + c]);
        }
        // each value of a group once, and a lane's four bytes in one block
        for (int j = 0; j < L; j++) {
            for (int k = 0; k < 4; k++) {
                assertThat(Q8Interleave.valueOf(j, k) / 32).isEqualTo(Q8Interleave.valueOf(j, 0) / 32);
                assertThat(Q8Interleave.valueOf(j, k)).isBetween(0, G - 1);
            }
        }
        assertThat(java.util.stream.IntStream.range(0, 4 * L).map(i -> Q8Interleave.valueOf(i / 4, i % 4)).distinct().count()).isEqualTo(G);
    }

    /**
     * The vector form gives the bits of the plain loops it replaced: Math.rint of x * id (ties to even, -0.0 kept),
     * the pair maximum, and (short) of each integer in the one-token order; on both grids, with NaN blocks too.
     */
    @Test
    void vectorFormMatchesThePlainLoops() {
        int T = 3, cols = 5 * 64 + 32;
        float[] x = awkward(T, cols, 9);
        SplittableRandom r = new SplittableRandom(10);
        for (int i = 0; i < 40; i++) x[r.nextInt(x.length)] = (r.nextInt(4) - 2) * 0.5f; // ties once scaled by 1
        x[70] = -1e-9f; // rounds to -0.0
        x[5 * 32 + 3] = Float.NaN;
        for (boolean llama : new boolean[]{false, true}) {
            Q8Ints a = new Activations().set(x, T, cols).q8Ints(llama);
            int nb = cols / 32;
            for (int t = 0; t < T; t++) {
                for (int b = 0; b < nb; b++) {
                    int s = t * cols + b * 32;
                    float id;
                    if (llama) {
                        float amax = 0;
                        for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[s + i]));
                        id = amax != 0 ? 127f / amax : 0f;
                    } else {
                        float pmax = 0;
                        for (int i = 0; i < 32; i++) {
                            if (Q8Ints.paired(i)) pmax = Math.max(pmax, Math.abs(x[s + i]) + Math.abs(x[s + i + Q8Ints.PARTNER]));
                        }
                        id = Q8Ints.PAIR / pmax;
                        if (!(id < Float.POSITIVE_INFINITY) || !Float.isFinite(pmax)) id = 0f;
                        float d = id == 0f ? (Float.isFinite(pmax) ? 0f : Float.NaN) : pmax / Q8Ints.PAIR;
                        assertThat(Float.floatToRawIntBits(a.d[t * nb + b])).as("d of block %d", b).isEqualTo(Float.floatToRawIntBits(d));
                    }
                    for (int i = 0; i < 32; i++) {
                        float want = (float) Math.rint(x[s + i] * id);
                        if (Float.isNaN(want)) assertThat(a.q[s + i]).isNaN();
                        else assertThat(Float.floatToRawIntBits(a.q[s + i])).as("llama %s, value %d", llama, s + i)
                                .isEqualTo(Float.floatToRawIntBits(want));
                    }
                }
                if (!Q8_0Matrix.FAST) continue;
                int per = Q8Ints.perToken(cols);
                for (int g = 0; g < cols / Q8_0Matrix.G; g++) {
                    for (int j = 0; j < L; j++) {
                        for (int h = 0; h < 2; h++) {
                            int at = t * per + g * 2 * L + 2 * j + h, c = t * cols + g * Q8_0Matrix.G;
                            assertThat(a.lo[at]).isEqualTo((short) a.q[c + Q8Interleave.valueOf(j, 2 * h)]);
                            assertThat(a.hi[at]).isEqualTo((short) a.q[c + Q8Interleave.valueOf(j, 2 * h + 1)]);
                        }
                    }
                }
            }
            assertThat(Float.floatToRawIntBits(a.q[70])).as("-0.0 kept").isEqualTo(Float.floatToRawIntBits(-0f));
        }
    }

    /** A NaN or an infinity in the activations makes the rows that read its block NaN, as float products would, not zero. */
    @Test
    void nonFiniteActivationsPropagate() {
        int rows = 8, cols = (Q8_0Matrix.SHORT_GROUPS + 2) * Q8_0Matrix.G; // long rows: the integer kernel for one token
        Matrix m = QuantizedMatrices.create("w", DType.Q8_0, rows, cols, QuantTestData.random(DType.Q8_0, rows, cols, 3), false);
        for (float bad : new float[]{Float.NaN, Float.POSITIVE_INFINITY}) {
            for (int T : new int[]{1, 3}) {
                float[] x = QuantTestData.floats(T * cols, 4);
                x[(T - 1) * cols + 37] = bad;
                float[] y = new float[T * rows];
                try (Parallel team = new Parallel(1)) {
                    Kernels.matmul(team, m, new Activations().set(x, T, cols), y);
                }
                for (int r = 0; r < rows; r++) {
                    assertThat(y[(T - 1) * rows + r]).as("%s, %d tokens, row %d", bad, T, r).isNaN();
                    if (T > 1) assertThat(y[r]).as("%s, another token's row %d", bad, r).isFinite();
                }
            }
        }
    }

    /** Weights of -128 (a crafted file; quantizers stop at -127) against activations at the pair budget: 16-bit sums must not wrap. */
    @Test
    void extremeWeightsDoNotOverflow() {
        int rows = 8, cols = 2 * Q8_0Matrix.G;
        MemorySegment raw = Arena.ofAuto().allocate((long) rows * cols / 32 * 34);
        for (int b = 0; b < rows * cols / 32; b++) {
            raw.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * 34L, Float.floatToFloat16(1f));
            for (int i = 0; i < 32; i++) raw.set(ValueLayout.JAVA_BYTE, b * 34L + 2 + i, (byte) (b % 3 == 0 ? -128 : 127));
        }
        Matrix m = QuantizedMatrices.create("w", DType.Q8_0, rows, cols, raw, false);
        float[] x = new float[cols];
        // each pair's budget spent on its first value (q = +-254): a kernel that paired two of those would wrap
        for (int c = 0; c < cols; c++) x[c] = Q8Ints.paired(c % 32) ? (c % 3 == 0 ? -1f : 1f) : 0.001f;
        Activations in = new Activations().set(x, 1, cols);
        float[] grid = in.q8IntGrid();
        assertThat(Math.abs(in.q8Ints(false).q[0])).isEqualTo(254f);
        float[] y = new float[rows];
        try (Parallel team = new Parallel(1)) {
            Kernels.matmul(team, m, in, y);
        }
        for (int r = 0; r < rows; r++) {
            double ref = 0;
            for (int c = 0; c < cols; c++) ref += (((r * cols + c) / 32) % 3 == 0 ? -128.0 : 127.0) * grid[c];
            assertThat((double) y[r]).as("row %d", r).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-3 * Math.abs(ref) + 1e-3));
        }
    }
}
