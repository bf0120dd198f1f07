package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Typed, range-checked reads of optional request fields. A JSON null counts as absent (OpenAI clients send
 * explicit nulls); any other value of the wrong type or range is a 400 that names the field.
 */
final class Fields {
    private final ObjectNode body;

    Fields(ObjectNode body) {
        this.body = body;
    }

    ObjectNode body() {
        return body;
    }

    boolean has(String name) {
        JsonNode n = body.get(name);
        return n != null && !n.isNull();
    }

    JsonNode node(String name) {
        JsonNode n = body.get(name);
        return n == null || n.isNull() ? null : n;
    }

    String string(String name, String dflt) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isTextual()) throw ApiException.invalid(name, "'" + name + "' must be a string");
        return n.textValue();
    }

    boolean bool(String name, boolean dflt) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be a boolean");
        return n.booleanValue();
    }

    /** An integer in [min, max]; floats with an integral value (2.0) are accepted, others are not. */
    long integer(String name, long dflt, long min, long max) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        long v;
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            v = n.longValue();
        } else if (n.isFloatingPointNumber() && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 9e15) {
            v = (long) n.doubleValue();
        } else if (n.isNumber()) {
            throw ApiException.invalid(name, "'" + name + "' must be an integer between " + min + " and " + max + ", got " + n);
        } else {
            throw ApiException.invalid(name, "'" + name + "' must be an integer");
        }
        if (v < min || v > max) throw ApiException.invalid(name, "'" + name + "' must be between " + min + " and " + max + ", got " + v);
        return v;
    }

    double number(String name, double dflt, double min, double max) {
        JsonNode n = node(name);
        if (n == null) return dflt;
        if (!n.isNumber()) throw ApiException.invalid(name, "'" + name + "' must be a number");
        double v = n.doubleValue();
        if (!(v >= min && v <= max)) throw ApiException.invalid(name, "'" + name + "' must be between " + min + " and " + max + ", got " + n);
        return v;
    }

    /** A string or an array of strings (OpenAI's "stop"). */
    List<String> strings(String name, int maxCount) {
        JsonNode n = node(name);
        List<String> out = new ArrayList<>();
        if (n == null) return out;
        if (n.isTextual()) {
            if (!n.textValue().isEmpty()) out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw ApiException.invalid(name, "'" + name + "' must be a string or an array of strings");
        if (n.size() > maxCount) throw ApiException.invalid(name, "'" + name + "' takes at most " + maxCount + " entries, got " + n.size());
        for (JsonNode e : n) {
            if (!e.isTextual()) throw ApiException.invalid(name, "'" + name + "' must be a string or an array of strings");
            if (!e.textValue().isEmpty()) out.add(e.textValue());
        }
        return out;
    }

    /** An array of token ids (vLLM's "stop_token_ids"): non-negative integers, at most maxCount. */
    int[] ids(String name, int maxCount) {
        JsonNode n = node(name);
        if (n == null) return new int[0];
        if (!n.isArray()) throw ApiException.invalid(name, "'" + name + "' must be an array of token ids");
        if (n.size() > maxCount) throw ApiException.invalid(name, "'" + name + "' takes at most " + maxCount + " entries, got " + n.size());
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = n.get(i);
            if (!e.canConvertToInt() || !e.isIntegralNumber() || e.intValue() < 0) {
                throw ApiException.invalid(name, "'" + name + "' must be an array of token ids (integers >= 0), got " + e);
            }
            out[i] = e.intValue();
        }
        return out;
    }

    ObjectNode object(String name) {
        JsonNode n = node(name);
        if (n == null) return null;
        if (!n.isObject()) throw ApiException.invalid(name, "'" + name + "' must be an object");
        return (ObjectNode) n;
    }

    /** Field {@code name} of object {@code o} (at {@code at} in the request), which must be a string. */
    static String requiredString(JsonNode o, String name, String at) {
        JsonNode v = o.get(name);
        if (v == null || !v.isTextual()) throw ApiException.invalid(at + "." + name, "'" + at + "." + name + "' must be a string");
        return v.textValue();
    }

    /**
     * An array of content parts (at {@code at}) whose types are all in {@code types}, their "text" joined; another
     * type is a 400 that names the part and says what {@code readable} are.
     */
    static String joinedText(JsonNode parts, String at, java.util.Set<String> types, String readable) {
        if (!parts.isArray()) throw ApiException.invalid(at, "'" + at + "' must be a string or an array of " + readable);
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < parts.size(); j++) {
            String pat = at + "[" + j + "]";
            JsonNode part = parts.get(j);
            if (!part.isObject()) throw ApiException.invalid(pat, "'" + pat + "' must be an object");
            String type = part.path("type").asText("");
            if (!types.contains(type)) {
                throw ApiException.invalid(pat + ".type", "'" + pat + ".type' '" + type + "' is not supported here: " + readable + " only");
            }
            sb.append(requiredString(part, "text", pat));
        }
        return sb.toString();
    }

    /** The elements of array {@code arr} (field {@code name}), each of which must be an object. */
    static List<JsonNode> objects(JsonNode arr, String name) {
        if (!arr.isArray()) throw ApiException.invalid(name, "'" + name + "' must be an array");
        List<JsonNode> out = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            JsonNode e = arr.get(i);
            if (!e.isObject()) throw ApiException.invalid(name + "[" + i + "]", "'" + name + "[" + i + "]' must be an object");
            out.add(e);
        }
        return out;
    }
}
