package moge.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.util.Iterator;
import java.util.Map;

/**
 * JSON as Python's {@code json.dumps} writes it, which is what chat templates' {@code tojson} gives under
 * transformers: ", " and ": " between items (with an indent, "," and ": " and one item a line), non-ASCII text
 * as is, empty containers as {} and []. Jinjava's own tojson writes compact JSON, so a template rendering tool
 * schemas or call arguments would show the model text it never saw in training. Registered as the
 * {@code tojson} filter, with transformers' {@code indent} and {@code sort_keys} arguments.
 */
public final class PythonJson implements Filter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** {@code value} as {@code json.dumps(value, ensure_ascii=False, indent=indent)}; indent below 0 is None. */
    public static String dumps(Object value, int indent, boolean sortKeys) {
        StringBuilder sb = new StringBuilder();
        write(sb, value instanceof JsonNode n ? n : JSON.valueToTree(value), indent, sortKeys, 0);
        return sb.toString();
    }

    public static String dumps(Object value) {
        return dumps(value, -1, false);
    }

    private static void write(StringBuilder sb, JsonNode n, int indent, boolean sortKeys, int level) {
        if (n.isObject()) {
            if (n.isEmpty()) {
                sb.append("{}");
                return;
            }
            Iterator<Map.Entry<String, JsonNode>> it = sortKeys ? new java.util.TreeMap<>(JSON.convertValue(n,
                    new com.fasterxml.jackson.core.type.TypeReference<Map<String, JsonNode>>() {
                    })).entrySet().iterator() : n.properties().iterator();
            sb.append('{');
            for (boolean first = true; it.hasNext(); first = false) {
                Map.Entry<String, JsonNode> e = it.next();
                separate(sb, first, indent, level + 1);
                sb.append(scalar(JSON.getNodeFactory().textNode(e.getKey()))).append(": ");
                write(sb, e.getValue(), indent, sortKeys, level + 1);
            }
            close(sb, indent, level, '}');
        } else if (n.isArray()) {
            if (n.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < n.size(); i++) {
                separate(sb, i == 0, indent, level + 1);
                write(sb, n.get(i), indent, sortKeys, level + 1);
            }
            close(sb, indent, level, ']');
        } else {
            sb.append(scalar(n));
        }
    }

    private static void separate(StringBuilder sb, boolean first, int indent, int level) {
        if (indent < 0) {
            if (!first) sb.append(", ");
            return;
        }
        if (!first) sb.append(',');
        sb.append('\n').append(" ".repeat(indent * level));
    }

    private static void close(StringBuilder sb, int indent, int level, char bracket) {
        if (indent >= 0) sb.append('\n').append(" ".repeat(indent * level));
        sb.append(bracket);
    }

    private static String scalar(JsonNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return dumps(plain(var), args.length > 0 ? Integer.parseInt(args[0].strip()) : -1, false);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
        Object sort = kwargs.get("sort_keys");
        return dumps(plain(var), indent instanceof Number i ? i.intValue() : -1, Boolean.TRUE.equals(sort));
    }

    /** Template values as JSON values: Jinjava's safe strings are text. */
    private static Object plain(Object var) {
        return var instanceof com.hubspot.jinjava.objects.SafeString s ? s.toString() : var;
    }
}
