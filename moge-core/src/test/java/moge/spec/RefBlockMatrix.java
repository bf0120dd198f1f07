package moge.spec;

import moge.format.DType;
import moge.format.gguf.GgmlQuantizer;
import moge.tensor.Activations;
import moge.tensor.Matrix;

import java.lang.foreign.MemorySegment;

/**
 * Plain scalar Q8_0/Q4_0 matrix over ggml blocks, standing in for the fast kernels in tests (and the
 * reference they are compared with): the blocks dequantized, plain dots.
 */
final class RefBlockMatrix extends Matrix {
    private final DType type;
    private final long rowBytes;
    private final float[] values;

    RefBlockMatrix(String name, DType type, int rows, int cols, MemorySegment data) {
        super(name, rows, cols, data);
        this.type = type;
        this.rowBytes = type.bytesFor(cols);
        // Dequantized once: tests run many passes, and the values are what the blocks mean.
        values = new float[rows * cols];
        for (int r = 0; r < rows; r++) GgmlQuantizer.decode(type, data, r * rowBytes, values, r * cols, cols);
    }

    static Matrix create(String name, DType type, int rows, int cols, MemorySegment data) {
        return new RefBlockMatrix(name, type, rows, cols, data);
    }

    @Override
    public DType type() {
        return type;
    }

    @Override
    public void matmul(Activations x, float[] y, int yStride, int yOff, int r0, int r1) {
        float[] a = x.data();
        for (int r = r0; r < r1; r++) {
            int w = r * cols;
            for (int t = 0; t < x.tokens(); t++) {
                float s = 0;
                int o = x.offset() + t * cols;
                for (int c = 0; c < cols; c++) s += values[w + c] * a[o + c];
                y[t * yStride + yOff + r] = s;
            }
        }
    }

    @Override
    public void row(int r, float[] out, int off) {
        GgmlQuantizer.decode(type, data, r * rowBytes, out, off, cols);
    }
}
