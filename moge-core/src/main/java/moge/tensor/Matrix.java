package moge.tensor;

import moge.format.DType;
import moge.format.TensorData;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix [rows, cols] in its storage format, read where it lies (a mapped file or a repacked
 * off-heap copy). Each format knows how to multiply itself with float activations; {@link Kernels} splits
 * the rows over the thread team.
 */
public abstract class Matrix {
    public final String name;
    public final int rows;
    public final int cols;
    protected final MemorySegment data;

    /**
     * Rows up to this long (a quarter of a 4 KiB page) may be read several at a time by the float formats' one-token
     * kernels, which then share each activation load: those rows lie side by side, one stream. Longer rows are read
     * one after the other, so that a matrix streams from memory in order; several long rows at a time are as many
     * streams, a row apart, and ran 15-50% slower from memory on the reference machine (BENCHMARKS.md section 2).
     */
    static final int ONE_STREAM_ROW_BYTES = 1024;

    protected Matrix(String name, int rows, int cols, MemorySegment data) {
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
    }

    public abstract DType type();

    /** Builds the activation forms this kernel reads; runs on the calling thread before the split. */
    public void prepare(Activations x) {
    }

    /**
     * y[t * yStride + yOff + r] = dot(row r, x_t) for every token t of x and rows r in [r0, r1).
     * Must be safe to call concurrently on disjoint row ranges.
     */
    public abstract void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1);

    /**
     * Multiply with the activations rounded to the Q8_0 grid ({@link Activations#q8Grid}), as llama.cpp does
     * for the formats whose dot products it runs on quantized activations (Q8_0, Q4_0): the results then
     * follow llama.cpp's token for token (Q8_0 on AVX2 also sums in llama.cpp's order, see
     * {@code RepackedBlockMatrix#llamaOrder}). Off by default (float activations, closer to the exact product;
     * Q4_0's single-token kernel multiplies integers on a finer grid of its own, see {@code Q8Lanes}).
     * Other formats ignore it. Set before the matrix is used, not during a product.
     */
    public void setActivationRounding(boolean on) {
    }

    /** Row r dequantized to float32 into out[off .. off + cols). */
    public abstract void row(int r, float[] out, int off);

    public long bytes() {
        return data.byteSize();
    }

    public MemorySegment segment() {
        return data;
    }

    /** A kernel view over a 2-D (or higher, rows folded) tensor in whatever format it is stored. */
    public static Matrix of(TensorData t) {
        long rows = t.rows(), cols = t.cols();
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) throw new IllegalArgumentException(t.name() + " too large");
        return of(t.name(), t.type(), (int) rows, (int) cols, t.data());
    }

    public static Matrix of(String name, DType type, int rows, int cols, MemorySegment data) {
        return switch (type) {
            case F32 -> new F32Matrix(name, rows, cols, data);
            case BF16 -> new BF16Matrix(name, rows, cols, data);
            case F16 -> new F16Matrix(name, rows, cols, data);
            default -> QuantizedMatrices.create(name, type, rows, cols, data);
        };
    }
}
