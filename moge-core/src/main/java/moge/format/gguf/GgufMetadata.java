package moge.format.gguf;

import moge.MogeException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The key/value metadata of a GGUF file with typed getters that fail with one line naming the file and the
 * key. Numeric getters accept any integer width (and floats for float keys), as llama.cpp's loader does.
 */
public final class GgufMetadata {
    private final String file;
    private final Map<String, GgufValue> values;

    public GgufMetadata(String file, Map<String, GgufValue> values) {
        this.file = file;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public Map<String, GgufValue> asMap() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public GgufValue get(String key) {
        return values.get(key);
    }

    private GgufValue require(String key) {
        GgufValue v = values.get(key);
        if (v == null) throw new MogeException(file + ": missing metadata key " + key);
        return v;
    }

    private MogeException wrongType(String key, GgufValue v, String want) {
        return new MogeException(file + ": metadata key " + key + " is " + describe(v) + ", expected " + want);
    }

    private static String describe(GgufValue v) {
        return v.type() == GgufType.ARRAY ? "an array of " + ((GgufValue.GgufArray) v.value()).elementType() : "a " + v.type();
    }

    public String string(String key) {
        GgufValue v = require(key);
        if (v.type() != GgufType.STRING) throw wrongType(key, v, "a string");
        return (String) v.value();
    }

    public String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    /** An integer key as a signed long (UINT64 above 2^63 is refused). */
    public long integer(String key) {
        GgufValue v = require(key);
        if (!v.type().isInteger()) throw wrongType(key, v, "an integer");
        long x = (Long) v.value();
        if (v.type() == GgufType.UINT64 && x < 0) throw new MogeException(file + ": metadata key " + key + " is out of range");
        return x;
    }

    /** An integer key in [0, 2^31). */
    public int count(String key) {
        long x = integer(key);
        if (x < 0 || x > Integer.MAX_VALUE) throw new MogeException(file + ": metadata key " + key + " = " + x + " is out of range");
        return (int) x;
    }

    public int count(String key, int fallback) {
        return has(key) ? count(key) : fallback;
    }

    /**
     * A count that llama.cpp allows per layer (an array with one value per block): a scalar, or an array whose
     * {@code layers} values are all equal.
     */
    public int uniformCount(String key, int layers, int fallback) {
        GgufValue v = values.get(key);
        if (v == null) return fallback;
        if (v.type() != GgufType.ARRAY) return count(key);
        GgufValue.GgufArray a = (GgufValue.GgufArray) v.value();
        if (!a.elementType().isInteger() || a.length() != layers || layers == 0) {
            throw new MogeException(file + ": metadata key " + key + " is " + a + ", expected an integer or " + layers + " integers");
        }
        long first = a.integerAt(0);
        for (int i = 1; i < layers; i++) {
            if (a.integerAt(i) != first) {
                throw new MogeException(file + ": metadata key " + key + " differs between layers, which moge does not support");
            }
        }
        if (first < 0 || first > Integer.MAX_VALUE) throw new MogeException(file + ": metadata key " + key + " is out of range");
        return (int) first;
    }

    public double number(String key) {
        GgufValue v = require(key);
        return switch (v.type()) {
            case FLOAT32 -> (Float) v.value();
            case FLOAT64 -> (Double) v.value();
            default -> {
                if (!v.type().isInteger()) throw wrongType(key, v, "a number");
                yield (double) integer(key);
            }
        };
    }

    public double number(String key, double fallback) {
        return has(key) ? number(key) : fallback;
    }

    public boolean bool(String key, boolean fallback) {
        GgufValue v = values.get(key);
        if (v == null) return fallback;
        if (v.type() != GgufType.BOOL) throw wrongType(key, v, "a bool");
        return (Boolean) v.value();
    }

    private GgufValue.GgufArray array(String key, GgufValue v) {
        if (v.type() != GgufType.ARRAY) throw wrongType(key, v, "an array");
        return (GgufValue.GgufArray) v.value();
    }

    public String[] strings(String key) {
        GgufValue.GgufArray a = array(key, require(key));
        if (a.elementType() != GgufType.STRING) throw wrongType(key, values.get(key), "an array of strings");
        return (String[]) a.data();
    }

    /** An integer array as int[] (every value must fit). */
    public int[] ints(String key) {
        GgufValue.GgufArray a = array(key, require(key));
        if (!a.elementType().isInteger()) throw wrongType(key, values.get(key), "an array of integers");
        if (a.elementType() == GgufType.INT32 || a.elementType() == GgufType.UINT32 && fitsSigned((int[]) a.data())) {
            return ((int[]) a.data()).clone();
        }
        int[] out = new int[a.length()];
        for (int i = 0; i < out.length; i++) {
            long x = a.integerAt(i);
            if (x != (int) x) throw new MogeException(file + ": metadata key " + key + " has value " + x + " at index " + i + ", out of range");
            out[i] = (int) x;
        }
        return out;
    }

    private static boolean fitsSigned(int[] a) {
        for (int x : a) if (x < 0) return false;
        return true;
    }

    public float[] floats(String key) {
        GgufValue.GgufArray a = array(key, require(key));
        if (a.elementType() == GgufType.FLOAT32) return ((float[]) a.data()).clone();
        if (a.elementType() == GgufType.FLOAT64) {
            double[] d = (double[]) a.data();
            float[] out = new float[d.length];
            for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
            return out;
        }
        throw wrongType(key, values.get(key), "an array of floats");
    }

    public int arrayLength(String key) {
        return array(key, require(key)).length();
    }
}
