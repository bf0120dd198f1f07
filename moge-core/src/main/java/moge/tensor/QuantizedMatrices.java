package moge.tensor;

import moge.MogeException;
import moge.format.DType;

import java.lang.foreign.MemorySegment;

/**
 * Kernel views over ggml block-quantized matrices. {@code data} holds the rows one after another in ggml's
 * block layout (as a GGUF tensor stores them). Every type is repacked into an off-heap copy (the mapped file is
 * not read again): Q8_0 and Q4_0 of the same size, Q4_K of about that size, Q6_K into 16-row tiles of signed 6-bit
 * codes (8.5625 bits a weight), Q4_1 and Q5_1 into whole-byte runs with a float scale and min (10 bits), Q5_K into 16-row tiles
 * of 5-bit codes (6.125 bits), Q3_K into 16-row tiles of signed 3-bit codes (4.0625 bits), Q2_K into 16-row tiles
 * of 2-bit codes (2.625 bits, the file's size), Q5_0 into Q8_0 (8.5 bits);
 * IQ4_XS into whole-byte runs with two scales (10 bits), IQ4_NL into Q8_0 (8.5 bits).
 */
public final class QuantizedMatrices {
    private QuantizedMatrices() {
    }

    /** As {@link #create(String, DType, int, int, MemorySegment, boolean)} with float activations. */
    public static Matrix create(String name, DType type, int rows, int cols, MemorySegment data) {
        return create(name, type, rows, cols, data, false);
    }

    /** @param roundActivations see {@link Matrix#setActivationRounding} */
    public static Matrix create(String name, DType type, int rows, int cols, MemorySegment data, boolean roundActivations) {
        if (!type.quantized()) throw new IllegalArgumentException(name + ": " + type + " is not block-quantized");
        if (rows < 0 || cols <= 0 || cols % type.blockSize != 0) {
            throw new MogeException(name + ": a " + type + " matrix needs a row length that is a multiple of "
                    + type.blockSize + ", got " + cols);
        }
        long need = (long) rows * (cols / type.blockSize) * type.blockBytes;
        if (data.byteSize() < need) {
            throw new MogeException(name + ": " + type + " data of " + data.byteSize() + " bytes is shorter than the "
                    + need + " bytes of " + rows + " x " + cols + " values");
        }
        return switch (type) {
            case Q8_0 -> Q8_0Matrix.repack(name, rows, cols, data, roundActivations);
            case Q4_0 -> Q4_0Matrix.repack(name, rows, cols, data, roundActivations);
            case Q4_K -> Q4KTiles.repack(name, rows, cols, data, roundActivations);
            case Q5_0 -> Q8_0Matrix.repackQ5_0(name, rows, cols, data, roundActivations);
            case Q5_K -> Q5KTiles.repack(name, rows, cols, data, roundActivations);
            case Q4_1, Q5_1 -> AffineBlocksRepack.repack(name, type, rows, cols, data);
            case Q6_K -> Q6KTiles.repack(name, rows, cols, data, roundActivations);
            case Q3_K -> Q3KTiles.repack(name, rows, cols, data, roundActivations);
            case Q2_K -> Q2KTiles.repack(name, rows, cols, data, roundActivations);
            case IQ4_XS -> ScaledRunsRepack.iq4XS(name, rows, cols, data);
            case IQ4_NL -> Q8_0Matrix.repackIQ4_NL(name, rows, cols, data, roundActivations);
            default -> throw new MogeException(name + ": tensor type " + type + " is not supported");
        };
    }
}
