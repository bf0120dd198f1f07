package moge.format.gguf;

import moge.MogeException;
import moge.format.DType;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What {@code moge convert --type} asks for: a storage type for the weight matrices, or (Q4_K_M, Q5_K_M)
 * llama.cpp's per-tensor mixture. {@link GgufLayout#storageType} turns it into each tensor's type; {@code id} is the
 * {@code general.file_type} written (llama.cpp's llama_ftype).
 */
public enum GgufFileType {
    F32(DType.F32, 0),
    F16(DType.F16, 1),
    BF16(DType.BF16, 32),
    Q8_0(DType.Q8_0, 7),
    Q4_0(DType.Q4_0, 2),
    Q4_1(DType.Q4_1, 3),
    Q5_0(DType.Q5_0, 8),
    Q5_1(DType.Q5_1, 9),
    /** Every matrix Q4_K, the head Q6_K: llama.cpp has no such ftype; Q4_K_S (14) is the nearest. */
    Q4_K(DType.Q4_K, 14),
    /** Every matrix Q5_K, the head Q6_K: llama.cpp's Q5_K_S (16) is the nearest. */
    Q5_K(DType.Q5_K, 16),
    Q6_K(DType.Q6_K, 18),
    /** llama.cpp's Q4_K_M mixture (LLAMA_FTYPE_MOSTLY_Q4_K_M). */
    Q4_K_M(DType.Q4_K, 15),
    /** llama.cpp's Q5_K_M mixture (LLAMA_FTYPE_MOSTLY_Q5_K_M): Q4_K_M's with Q5_K in place of Q4_K. */
    Q5_K_M(DType.Q5_K, 17),
    /** Every matrix Q3_K, the head Q6_K: llama.cpp's Q3_K_S (11) is the nearest. */
    Q3_K(DType.Q3_K, 11),
    /** llama.cpp's Q3_K_M mixture (LLAMA_FTYPE_MOSTLY_Q3_K_M): Q4_K/Q5_K for attn_v, attn_output and ffn_down. */
    Q3_K_M(DType.Q3_K, 12),
    /** Every matrix Q2_K, the head Q6_K: llama.cpp's Q2_K_S (21) is the nearest. */
    Q2_K(DType.Q2_K, 21),
    /**
     * llama.cpp's Q2_K mixture (LLAMA_FTYPE_MOSTLY_Q2_K, which llama.cpp names "Q2_K - Medium"): Q3_K for
     * attn_output and ffn_down, Q3_K or Q4_K for attn_v.
     */
    Q2_K_M(DType.Q2_K, 10),
    /** llama.cpp's IQ4_NL (LLAMA_FTYPE_MOSTLY_IQ4_NL): Q5_K for attn_v (4+ query heads a KV head) and early ffn_down. */
    IQ4_NL(DType.IQ4_NL, 25),
    /** llama.cpp's IQ4_XS (LLAMA_FTYPE_MOSTLY_IQ4_XS): IQ4_NL's recipe on 256-value blocks. */
    IQ4_XS(DType.IQ4_XS, 30);

    /** The type of a matrix the mixture says nothing special about. */
    public final DType base;
    public final int id;

    GgufFileType(DType base, int id) {
        this.base = base;
        this.id = id;
    }

    /**
     * The file type whose matrices are all {@code t} (apart from the head, as {@link GgufLayout#storageType} says,
     * and for IQ4_NL and IQ4_XS the few tensors that llama.cpp's recipe of that name gives Q5_K).
     */
    public static GgufFileType of(DType t) {
        return valueOf(t.name());
    }

    /** "q4_k_m" and the like, as the command line spells them. */
    public static GgufFileType parse(String s) {
        for (GgufFileType t : values()) if (t.name().equalsIgnoreCase(s)) return t;
        throw new MogeException("--type: expected " + names() + ", got " + s);
    }

    /**
     * What llama.cpp calls a {@code general.file_type} (its llama_model_ftype_name: "Q4_K - Medium", "all F32"),
     * the words llama-bench's model column and llama.cpp's loader show, so that a row of moge's reads like a row
     * of llama.cpp's for the same file; null for an id outside the legacy and K-quant types and IQ4_NL/IQ4_XS (the
     * other IQ types, which moge does not run). Any file's id, not only the ones moge writes: a llama-quantize output says Q5_K_M.
     */
    public static String llamaName(int id) {
        return switch (id) {
            case 0 -> "all F32";
            case 1 -> "F16";
            case 32 -> "BF16";
            case 2 -> "Q4_0";
            case 3 -> "Q4_1";
            case 7 -> "Q8_0";
            case 8 -> "Q5_0";
            case 9 -> "Q5_1";
            case 10 -> "Q2_K - Medium";
            case 21 -> "Q2_K - Small";
            case 11 -> "Q3_K - Small";
            case 12 -> "Q3_K - Medium";
            case 13 -> "Q3_K - Large";
            case 14 -> "Q4_K - Small";
            case 15 -> "Q4_K - Medium";
            case 16 -> "Q5_K - Small";
            case 17 -> "Q5_K - Medium";
            case 18 -> "Q6_K";
            case 25 -> "IQ4_NL - 4.5 bpw";
            case 30 -> "IQ4_XS - 4.25 bpw";
            default -> null;
        };
    }

    /** "f32, f16, ... or q4_k_m". */
    public static String names() {
        String all = Arrays.stream(values()).map(t -> t.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
        int last = all.lastIndexOf(", ");
        return all.substring(0, last) + " or " + all.substring(last + 2);
    }
}
