package moge.tokenizer;

/**
 * Vocabulary entry kinds. The numbers are SentencePiece's {@code ModelProto.SentencePiece.Type}, which GGUF's
 * {@code tokenizer.ggml.token_type} reuses unchanged, so both loaders can pass their arrays through.
 */
public final class PieceType {
    public static final int NORMAL = 1;
    public static final int UNKNOWN = 2;
    public static final int CONTROL = 3;
    public static final int USER_DEFINED = 4;
    public static final int UNUSED = 5;
    public static final int BYTE = 6;

    private PieceType() {
    }

    static boolean isValid(int type) {
        return type >= NORMAL && type <= BYTE;
    }

    static String name(int type) {
        return switch (type) {
            case NORMAL -> "NORMAL";
            case UNKNOWN -> "UNKNOWN";
            case CONTROL -> "CONTROL";
            case USER_DEFINED -> "USER_DEFINED";
            case UNUSED -> "UNUSED";
            case BYTE -> "BYTE";
            default -> "type " + type;
        };
    }
}
