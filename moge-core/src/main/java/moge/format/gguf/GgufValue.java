package moge.format.gguf;

import java.lang.reflect.Array;
import java.util.Arrays;

/**
 * One metadata value. Integers of every width are held as a {@code Long} (UINT64 keeps its raw bits),
 * FLOAT32 as {@code Float}, FLOAT64 as {@code Double}, BOOL as {@code Boolean}, STRING as {@code String}
 * and ARRAY as an {@link GgufArray}.
 */
public record GgufValue(GgufType type, Object value) {

    public static GgufValue ofString(String s) {
        return new GgufValue(GgufType.STRING, s);
    }

    public static GgufValue ofU32(long v) {
        if (v < 0 || v > 0xFFFFFFFFL) throw new IllegalArgumentException("not a uint32: " + v);
        return new GgufValue(GgufType.UINT32, v);
    }

    public static GgufValue ofI32(int v) {
        return new GgufValue(GgufType.INT32, (long) v);
    }

    public static GgufValue ofU64(long v) {
        return new GgufValue(GgufType.UINT64, v);
    }

    public static GgufValue ofF32(float v) {
        return new GgufValue(GgufType.FLOAT32, v);
    }

    public static GgufValue ofF64(double v) {
        return new GgufValue(GgufType.FLOAT64, v);
    }

    public static GgufValue ofBool(boolean v) {
        return new GgufValue(GgufType.BOOL, v);
    }

    public static GgufValue ofArray(GgufType elementType, Object data) {
        return new GgufValue(GgufType.ARRAY, new GgufArray(elementType, data));
    }

    /**
     * A typed array: {@code byte[]} for UINT8/INT8, {@code short[]} for UINT16/INT16, {@code int[]} for
     * UINT32/INT32, {@code long[]} for UINT64/INT64, {@code float[]}, {@code double[]}, {@code boolean[]},
     * {@code String[]}, or {@code GgufArray[]} for nested arrays.
     */
    public record GgufArray(GgufType elementType, Object data) {
        public GgufArray {
            Class<?> want = switch (elementType) {
                case UINT8, INT8 -> byte[].class;
                case UINT16, INT16 -> short[].class;
                case UINT32, INT32 -> int[].class;
                case UINT64, INT64 -> long[].class;
                case FLOAT32 -> float[].class;
                case FLOAT64 -> double[].class;
                case BOOL -> boolean[].class;
                case STRING -> String[].class;
                case ARRAY -> GgufArray[].class;
            };
            if (!want.isInstance(data)) throw new IllegalArgumentException(elementType + " array needs " + want.getSimpleName());
        }

        public int length() {
            return Array.getLength(data);
        }

        /** Element i of an integer array as a long (unsigned types zero-extended). */
        public long integerAt(int i) {
            return switch (elementType) {
                case UINT8 -> ((byte[]) data)[i] & 0xFFL;
                case INT8 -> ((byte[]) data)[i];
                case UINT16 -> ((short[]) data)[i] & 0xFFFFL;
                case INT16 -> ((short[]) data)[i];
                case UINT32 -> ((int[]) data)[i] & 0xFFFFFFFFL;
                case INT32 -> ((int[]) data)[i];
                case UINT64, INT64 -> ((long[]) data)[i];
                default -> throw new IllegalStateException("not an integer array: " + elementType);
            };
        }

        @Override
        public String toString() {
            int n = length();
            StringBuilder sb = new StringBuilder(elementType + "[" + n + "]");
            if (n <= 8 && elementType != GgufType.ARRAY) {
                Object[] boxed = new Object[n];
                for (int i = 0; i < n; i++) boxed[i] = Array.get(data, i);
                sb.append(Arrays.toString(boxed));
            }
            return sb.toString();
        }
    }

    /** A short display form (long arrays and strings abbreviated). */
    public String display() {
        if (type == GgufType.STRING) {
            String s = (String) value;
            s = s.length() > 60 ? s.substring(0, 57) + "..." : s;
            return '"' + s.replace("\n", "\\n") + '"';
        }
        if (type == GgufType.UINT64) return Long.toUnsignedString((Long) value);
        return String.valueOf(value);
    }
}
