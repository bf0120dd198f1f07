package moge.cluster;

import moge.MogeException;

import java.util.Locale;

/** How activations travel between coordinator and workers: raw little-endian float32 or bfloat16 bytes. */
public enum Transport {
    /** Exact: the output equals the single-process output. */
    F32(4),
    /** Half the bytes; activations rounded to bfloat16 (nearest even) both ways. */
    BF16(2);

    public final int bytesPerValue;

    Transport(int bytesPerValue) {
        this.bytesPerValue = bytesPerValue;
    }

    public static Transport parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "fp32" -> F32;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new MogeException("--transport: unknown activation format '" + s + "' (expected f32 or bf16)");
        };
    }

    byte code() {
        return (byte) ordinal();
    }

    static Transport of(byte code) {
        if (code < 0 || code >= values().length) throw new IllegalArgumentException("unknown transport code " + code);
        return values()[code];
    }
}
