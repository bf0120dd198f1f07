package moge.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tool fields of request messages: an assistant turn's {@code tool_calls} and a tool result's
 * {@code tool_call_id} (and {@code name}), checked and turned into the shapes Hugging Face chat templates read:
 * {@code tool_calls} as [{id, type, function: {name, arguments}}] with the arguments parsed into an object (OpenAI
 * sends them as a JSON string; templates write them with {@code tojson}).
 */
final class ToolMessages {
    private ToolMessages() {
    }

    /** The extra template fields of message {@code m} (at {@code at}, e.g. messages[2]) of role {@code role}. */
    static Map<String, Object> fields(JsonNode m, String role, String at) {
        Map<String, Object> out = new LinkedHashMap<>();
        JsonNode calls = m.get("tool_calls");
        if (calls != null && !calls.isNull()) {
            if (!role.equals("assistant")) throw ApiException.invalid(at + ".tool_calls", "'" + at + ".tool_calls' is only allowed in an assistant message");
            if (!calls.isArray()) throw ApiException.invalid(at + ".tool_calls", "'" + at + ".tool_calls' must be an array");
            List<Object> list = new ArrayList<>(calls.size());
            for (int j = 0; j < calls.size(); j++) list.add(call(calls.get(j), at + ".tool_calls[" + j + "]"));
            if (!list.isEmpty()) out.put("tool_calls", list);
        }
        if (role.equals("tool")) {
            JsonNode id = m.get("tool_call_id");
            if (id != null && !id.isNull()) {
                if (!id.isTextual()) throw ApiException.invalid(at + ".tool_call_id", "'" + at + ".tool_call_id' must be a string");
                out.put("tool_call_id", id.textValue());
            }
        }
        JsonNode name = m.get("name");
        if (name != null && !name.isNull()) {
            if (!name.isTextual()) throw ApiException.invalid(at + ".name", "'" + at + ".name' must be a string");
            out.put("name", name.textValue());
        }
        return out;
    }

    private static Map<String, Object> call(JsonNode c, String at) {
        if (!c.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object {\"id\", \"type\": \"function\", \"function\": {...}}");
        JsonNode type = c.get("type");
        if (type != null && !type.isNull() && !"function".equals(type.asText(null))) {
            throw ApiException.invalid(at + ".type", "'" + at + ".type' must be \"function\", got " + type);
        }
        JsonNode fn = c.get("function");
        if (fn == null || !fn.isObject()) throw ApiException.invalid(at + ".function", "'" + at + ".function' must be an object with 'name' and 'arguments'");
        JsonNode name = fn.get("name");
        if (name == null || !name.isTextual() || name.textValue().isEmpty()) {
            throw ApiException.invalid(at + ".function.name", "'" + at + ".function.name' must be a non-empty string");
        }
        Map<String, Object> call = new LinkedHashMap<>();
        JsonNode id = c.get("id");
        if (id != null && !id.isNull()) {
            if (!id.isTextual()) throw ApiException.invalid(at + ".id", "'" + at + ".id' must be a string");
            call.put("id", id.textValue());
        }
        call.put("type", "function");
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("name", name.textValue());
        f.put("arguments", RequestParser.JSON.convertValue(arguments(fn.get("arguments"), at + ".function.arguments"), Map.class));
        call.put("function", f);
        return call;
    }

    /** The arguments as an object: OpenAI's JSON string, or an object as some clients send; absent or empty is {}. */
    private static JsonNode arguments(JsonNode a, String at) {
        if (a == null || a.isNull() || (a.isTextual() && a.textValue().isBlank())) return RequestParser.JSON.createObjectNode();
        if (a.isObject()) return a;
        if (!a.isTextual()) throw ApiException.invalid(at, "'" + at + "' must be a string holding a JSON object");
        JsonNode parsed;
        try {
            parsed = RequestParser.JSON.readTree(a.textValue());
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(at, "'" + at + "' is not valid JSON: " + RequestParser.problem(e));
        }
        if (parsed == null || !parsed.isObject()) throw ApiException.invalid(at, "'" + at + "' must hold a JSON object, got " + a.textValue());
        return parsed;
    }
}
