package moge.model;

import moge.MogeException;

/**
 * How the KV cache stores keys and values. F16 halves the cache (llama.cpp's default cache type): twice the
 * context or sequences in the same memory, and half the bytes that attention reads per key at long
 * contexts, for a rounding of every cached value to 11 significant bits. F32 keeps them exact.
 */
public enum KvType {
    F32(4), F16(2);

    public final int bytes;

    KvType(int bytes) {
        this.bytes = bytes;
    }

    /** From an option value: {@code f32} or {@code f16}. */
    public static KvType parse(String s, String option) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> F32;
            case "f16" -> F16;
            default -> throw new MogeException(option + " must be f32 or f16, got " + s);
        };
    }
}
