package moge.constrain;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Iterator;
import java.util.Map;

/**
 * A JSON-schema validator for the supported subset, written for the tests from the specification rather than
 * from the matcher, so that "the matcher's output validates" is checked by something that does not share its
 * mistakes.
 */
public final class SubsetValidator {
    private final JsonNode root;

    public SubsetValidator(JsonNode root) {
        this.root = root;
    }

    public boolean valid(JsonNode v) {
        return valid(root, v);
    }

    private boolean valid(JsonNode s, JsonNode v) {
        if (s.isBoolean()) return s.booleanValue();
        if (s.has("$ref")) {
            String r = s.get("$ref").textValue();
            if (r.equals("#")) return valid(root, v);
            String[] parts = r.substring(2).split("/");
            return valid(root.get(parts[0]).get(parts[1]), v);
        }
        if (s.has("allOf")) for (JsonNode x : s.get("allOf")) if (!valid(x, v)) return false;
        if (s.has("anyOf")) {
            boolean any = false;
            for (JsonNode x : s.get("anyOf")) any |= valid(x, v);
            if (!any) return false;
        }
        if (s.has("const") && !s.get("const").equals(v) && !numEq(s.get("const"), v)) return false;
        if (s.has("enum")) {
            boolean any = false;
            for (JsonNode x : s.get("enum")) any |= x.equals(v) || numEq(x, v);
            if (!any) return false;
        }
        if (s.has("type")) {
            JsonNode t = s.get("type");
            boolean any = false;
            for (JsonNode x : t.isArray() ? t : java.util.List.of(t)) any |= isType(v, x.textValue());
            if (!any) return false;
        }
        if (v.isObject()) {
            JsonNode props = s.get("properties");
            if (s.has("required")) for (JsonNode r : s.get("required")) if (!v.has(r.textValue())) return false;
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (props != null && props.has(e.getKey())) {
                    if (!valid(props.get(e.getKey()), e.getValue())) return false;
                } else if (s.has("additionalProperties")) {
                    if (!valid(s.get("additionalProperties"), e.getValue())) return false;
                }
            }
        }
        if (v.isArray()) {
            if (s.has("minItems") && v.size() < s.get("minItems").intValue()) return false;
            if (s.has("maxItems") && v.size() > s.get("maxItems").intValue()) return false;
            if (s.has("items")) for (JsonNode x : v) if (!valid(s.get("items"), x)) return false;
        }
        if (v.isTextual()) {
            int n = v.textValue().codePointCount(0, v.textValue().length());
            if (s.has("minLength") && n < s.get("minLength").intValue()) return false;
            if (s.has("maxLength") && n > s.get("maxLength").intValue()) return false;
        }
        return true;
    }

    private static boolean numEq(JsonNode a, JsonNode b) {
        return a.isNumber() && b.isNumber() && a.decimalValue().compareTo(b.decimalValue()) == 0;
    }

    private static boolean isType(JsonNode v, String t) {
        return switch (t) {
            case "object" -> v.isObject();
            case "array" -> v.isArray();
            case "string" -> v.isTextual();
            case "number" -> v.isNumber();
            case "integer" -> v.isIntegralNumber() || (v.isNumber() && v.decimalValue().stripTrailingZeros().scale() <= 0);
            case "boolean" -> v.isBoolean();
            case "null" -> v.isNull();
            default -> false;
        };
    }
}
