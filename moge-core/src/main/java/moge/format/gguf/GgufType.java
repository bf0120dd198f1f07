package moge.format.gguf;

/** The value types of GGUF metadata (gguf.h {@code gguf_type}); {@code minBytes} is the smallest encoding. */
public enum GgufType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4), BOOL(7, 1),
    STRING(8, 8), ARRAY(9, 12), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    public final int id;
    /** Bytes of a scalar, or the least an element of this type can occupy (a string's length, an array's header). */
    public final int minBytes;

    GgufType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    public static GgufType of(int id) {
        return id >= 0 && id < VALUES.length ? VALUES[id] : null;
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    private static final GgufType[] VALUES = values();
}
