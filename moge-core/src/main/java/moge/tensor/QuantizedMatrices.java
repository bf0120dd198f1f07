package moge.tensor;

import moge.MogeException;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

/** Factory for block-quantized formats (filled in by the GGUF work). */
final class QuantizedMatrices {
    private QuantizedMatrices() {
    }

    static Matrix create(String name, DType type, int rows, int cols, MemorySegment data) {
        throw new MogeException(name + ": tensor type " + type + " is not supported yet");
    }
}
