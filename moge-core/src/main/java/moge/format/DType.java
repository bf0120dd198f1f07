package moge.format;

/**
 * Storage types of weight tensors. Block-quantized types store {@code blockSize} values in
 * {@code blockBytes} bytes; plain types have a block of one value. The GGUF type ids are ggml's.
 */
public enum DType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    IQ4_NL(20, 32, 18),
    IQ4_XS(23, 256, 136),
    BF16(30, 1, 2);

    public final int ggmlId;
    public final int blockSize;
    public final int blockBytes;

    DType(int ggmlId, int blockSize, int blockBytes) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Bytes that {@code elements} values occupy; -1 when the count is not a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements < 0 || elements % blockSize != 0) return -1;
        return Math.multiplyExact(elements / blockSize, (long) blockBytes);
    }

    public boolean quantized() {
        return blockSize > 1;
    }

    public static DType fromGgml(int id) {
        for (DType t : values()) if (t.ggmlId == id) return t;
        return null;
    }

    /** safetensors dtype strings; only the float types a Hugging Face checkpoint carries. */
    public static DType fromSafetensors(String name) {
        return switch (name) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }
}
