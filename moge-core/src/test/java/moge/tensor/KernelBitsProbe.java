package moge.tensor;

import moge.format.DType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Prints one line per (format, token count): a hash of the products' bits, for {@link InterpretedBitsTest} to
 * compare between a JVM that only interprets and one that compiles every kernel before it counts. With
 * {@code warm N} each product first runs N times, so that the counted one runs compiled code.
 */
public final class KernelBitsProbe {
    static final DType[] TYPES = {DType.F32, DType.BF16, DType.F16, DType.Q8_0, DType.Q5_0, DType.IQ4_NL, DType.Q4_0,
            DType.Q4_1, DType.Q5_1, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q3_K, DType.Q2_K, DType.IQ4_XS};
    /** One token (the decode kernels), a few (verification, batched decode), and past Q8_0's few-token kernels. */
    static final int[] TOKENS = {1, 2, 3, 6, 17};

    private KernelBitsProbe() {
    }

    public static void main(String[] args) {
        int warm = args.length > 1 && args[0].equals("warm") ? Integer.parseInt(args[1]) : 0;
        // two whole 16-row tiles and rows past them; columns past Q8_0's last 64-value group where blocks allow
        int rows = 35;
        for (DType type : TYPES) {
            int cols = type.blockSize == 256 ? 512 : 544;
            MemorySegment raw = QuantTestData.random(type, rows, cols, 5);
            Matrix m = type.quantized() ? QuantizedMatrices.create("w", type, rows, cols, raw, false) : Matrix.of("w", type, rows, cols, raw);
            for (int T : TOKENS) {
                float[] xs = QuantTestData.floats(T * cols, T + 1L);
                float[] y = new float[T * rows];
                try (Parallel team = new Parallel(1)) {
                    for (int i = 0; i <= warm; i++) Kernels.matmul(team, m, new Activations().set(xs, T, cols), y);
                }
                int[] bits = new int[y.length];
                for (int i = 0; i < y.length; i++) bits[i] = Float.floatToRawIntBits(y[i]);
                System.out.println(type + " T=" + T + " " + Integer.toHexString(Arrays.hashCode(bits)));
            }
        }
    }
}
