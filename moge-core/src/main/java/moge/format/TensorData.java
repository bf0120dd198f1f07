package moge.format;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A tensor as stored in a checkpoint: its bytes stay in the mapped file. {@code shape} is row-major with the
 * last dimension contiguous (PyTorch order, [out, in] for a Linear weight); GGUF readers reverse ggml's
 * dimension order to match, so the model code sees one convention.
 */
public record TensorData(String name, DType type, long[] shape, MemorySegment data, String file) {

    public long elements() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    public int rank() {
        return shape.length;
    }

    /** Rows of a matrix (all leading dimensions folded), columns = last dimension. */
    public long rows() {
        return shape.length == 0 ? 1 : elements() / Math.max(1, shape[shape.length - 1]);
    }

    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Reads element i of a float-typed tensor (F32/F16/BF16) as a float; for small tensors only. */
    public float getFloat(long i) {
        return switch (type) {
            case F32 -> data.get(Layouts.F32, i * 4);
            case F16 -> Float.float16ToFloat(data.get(Layouts.I16, i * 2));
            case BF16 -> Float.intBitsToFloat((data.get(Layouts.I16, i * 2) & 0xFFFF) << 16);
            default -> throw new IllegalStateException(name + ": not a float tensor (" + type + ")");
        };
    }

    /** Copies a small float-typed tensor (norm weights, biases) onto the heap as float32. */
    public float[] toFloatArray() {
        long n = elements();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException(name + " too large to copy");
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        return out;
    }
}
