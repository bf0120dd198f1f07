package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What {@code moge convert --type} asks for: a storage type for the weight matrices, or (Q4_K_M) llama.cpp's
 * per-tensor mixture. {@link GgufLayout#storageType} turns it into each tensor's type; {@code id} is the
 * {@code general.file_type} written (llama.cpp's llama_ftype).
 */
public enum GgufFileType {
    F32(DType.F32, 0),
    F16(DType.F16, 1),
    BF16(DType.BF16, 32),
    Q8_0(DType.Q8_0, 7),
    Q4_0(DType.Q4_0, 2),
    /** Every matrix Q4_K, the head Q6_K: llama.cpp has no such ftype; Q4_K_S (14) is the nearest. */
    Q4_K(DType.Q4_K, 14),
    Q6_K(DType.Q6_K, 18),
    /** llama.cpp's Q4_K_M mixture (LLAMA_FTYPE_MOSTLY_Q4_K_M). */
    Q4_K_M(DType.Q4_K, 15);

    /** The type of a matrix the mixture says nothing special about. */
    public final DType base;
    public final int id;

    GgufFileType(DType base, int id) {
        this.base = base;
        this.id = id;
    }

    /** The file type whose matrices are all {@code t} (apart from the head, as {@link GgufLayout#storageType} says). */
    public static GgufFileType of(DType t) {
        return valueOf(t.name());
    }

    /** "q4_k_m" and the like, as the command line spells them. */
    public static GgufFileType parse(String s) {
        for (GgufFileType t : values()) if (t.name().equalsIgnoreCase(s)) return t;
        throw new MogeException("--type: expected " + names() + ", got " + s);
    }

    /** "f32, f16, ... or q4_k_m". */
    public static String names() {
        String all = Arrays.stream(values()).map(t -> t.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
        int last = all.lastIndexOf(", ");
        return all.substring(0, last) + " or " + all.substring(last + 2);
    }
}
