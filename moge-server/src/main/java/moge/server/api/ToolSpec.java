package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.constrain.SchemaCompiler;
import moge.constrain.SchemaException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A chat request's {@code tools}, {@code tool_choice} and {@code parallel_tool_calls}, checked. A function the
 * answer is forced to call ("required", or a named choice) needs {@code parameters} in the subset
 * {@link SchemaCompiler} supports, since decoding enforces them; with "auto" or "none" any JSON schema object is
 * taken, so clients whose tools carry {@code format}, {@code minimum} or {@code pattern} work unforced ("auto"
 * enforces the calls the model starts only when every function's parameters are in the subset).
 *
 * @param functions the declared functions, in the request's order (names unique)
 * @param choice    what the model may or must do
 * @param named     the function a named choice forces, else null
 * @param parallel  whether one answer may hold several calls
 */
record ToolSpec(List<Function> functions, Choice choice, String named, boolean parallel) {
    static final ToolSpec NONE = new ToolSpec(List.of(), Choice.NONE, null, true);
    /** OpenAI's rule for function names. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    enum Choice { NONE, AUTO, REQUIRED, NAMED }

    /**
     * One function.
     *
     * @param parameters its arguments' schema as given (an object schema; an empty one when the request has none)
     */
    record Function(String name, String description, JsonNode parameters) {
        /** The function in OpenAI's request shape, as chat templates and our tool list show it. */
        ObjectNode declaration() {
            ObjectNode t = JsonNodeFactory.instance.objectNode();
            t.put("type", "function");
            ObjectNode f = t.putObject("function");
            f.put("name", name);
            if (description != null) f.put("description", description);
            f.set("parameters", parameters);
            return t;
        }
    }

    /** Whether the model sees the tools and may call them. */
    boolean active() {
        return !functions.isEmpty() && choice != Choice.NONE;
    }

    /** Whether the answer must be calls (constrained decoding). */
    boolean forced() {
        return choice == Choice.REQUIRED || choice == Choice.NAMED;
    }

    Function function(String name) {
        for (Function f : functions) if (f.name().equals(name)) return f;
        return null;
    }

    /**
     * The schema of a forced answer: a JSON array of calls {"name": ..., "arguments": {...}}, each naming an allowed
     * function (only the named one for a named choice) with arguments valid against that function's parameters; one
     * call at most for a named choice or without parallel calls.
     */
    JsonNode callsSchema() {
        return callArray(call());
    }

    /**
     * The schema of what follows an "auto" answer's call marker: the calls' array as a forced answer has it, or one
     * call object alone (Hermes' format, which tool-aware templates such as Qwen's teach and {@link ToolCallStream}
     * reads too).
     */
    JsonNode autoCallsSchema() {
        JsonNode one = call();
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.putArray("anyOf").add(callArray(one)).add(one);
        return root;
    }

    /** One call of an allowed function: anyOf over the functions unless there is only one. */
    private JsonNode call() {
        JsonNodeFactory n = JsonNodeFactory.instance;
        ArrayNode options = n.arrayNode();
        for (Function f : functions) {
            if (choice == Choice.NAMED && !f.name().equals(named)) continue;
            ObjectNode call = options.addObject();
            call.put("type", "object");
            ObjectNode props = call.putObject("properties");
            props.putObject("name").put("const", f.name());
            props.set("arguments", f.parameters());
            call.putArray("required").add("name").add("arguments");
            call.put("additionalProperties", false);
        }
        return options.size() == 1 ? options.get(0) : n.objectNode().set("anyOf", options);
    }

    private ObjectNode callArray(JsonNode call) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("type", "array");
        root.set("items", call);
        root.put("minItems", 1);
        if (choice == Choice.NAMED || !parallel) root.put("maxItems", 1);
        return root;
    }

    /** The request's tool fields, or a 400 naming the bad one. */
    static ToolSpec parse(ObjectNode body) {
        Fields f = new Fields(body);
        for (String legacy : new String[]{"functions", "function_call"}) {
            // ignoring them would answer as if the client had declared nothing
            if (f.has(legacy)) throw ApiException.invalid(legacy, "'" + legacy + "' (OpenAI's deprecated form) is not supported; send 'tools' and 'tool_choice'");
        }
        JsonNode tools = f.node("tools");
        List<Function> functions = new ArrayList<>();
        if (tools != null) {
            if (!tools.isArray()) throw ApiException.invalid("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {...}}");
            Map<String, Integer> seen = new LinkedHashMap<>();
            for (int i = 0; i < tools.size(); i++) {
                Function fn = function(tools.get(i), "tools[" + i + "]");
                Integer before = seen.put(fn.name(), i);
                if (before != null) {
                    throw ApiException.invalid("tools[" + i + "].function.name", "'tools[" + i + "].function.name' \"" + fn.name()
                            + "\" is declared twice (also tools[" + before + "])");
                }
                functions.add(fn);
            }
        }
        boolean parallel = f.bool("parallel_tool_calls", true);
        JsonNode tc = f.node("tool_choice");
        Choice choice = functions.isEmpty() ? Choice.NONE : Choice.AUTO;
        String named = null;
        if (tc != null) {
            if (tc.isTextual()) {
                choice = switch (tc.textValue()) {
                    case "none" -> Choice.NONE;
                    case "auto" -> functions.isEmpty() ? Choice.NONE : Choice.AUTO;
                    case "required" -> Choice.REQUIRED;
                    default -> throw ApiException.invalid("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                            + "{\"type\": \"function\", \"function\": {\"name\": ...}}, got \"" + tc.textValue() + "\"");
                };
            } else if (tc.isObject()) {
                JsonNode type = tc.get("type"), name = tc.path("function").get("name");
                if (type != null && !type.isNull() && !"function".equals(type.asText(null))) {
                    throw ApiException.invalid("tool_choice.type", "'tool_choice.type' must be \"function\", got " + type);
                }
                if (name == null || !name.isTextual()) {
                    throw ApiException.invalid("tool_choice.function.name", "'tool_choice.function.name' must be a string naming one of 'tools'");
                }
                choice = Choice.NAMED;
                named = name.textValue();
            } else {
                throw ApiException.invalid("tool_choice", "'tool_choice' must be a string or an object");
            }
        }
        if ((choice == Choice.REQUIRED || choice == Choice.NAMED) && functions.isEmpty()) {
            throw ApiException.invalid("tool_choice", "'tool_choice' " + (named != null ? "names a function" : "\"required\"")
                    + " but the request declares no 'tools'");
        }
        ToolSpec spec = new ToolSpec(List.copyOf(functions), choice, named, parallel);
        if (named != null && spec.function(named) == null) {
            throw ApiException.invalid("tool_choice.function.name", "'tool_choice.function.name' \"" + named
                    + "\" is not one of the declared tools (" + String.join(", ", functions.stream().map(Function::name).toList()) + ")");
        }
        if (spec.forced() && f.has(ResponseFormat.PARAM) && !"text".equals(body.path(ResponseFormat.PARAM).path("type").asText())) {
            throw ApiException.invalid("tool_choice", "'tool_choice' \"required\" or a named function cannot be combined with a "
                    + "'response_format' other than text: the answer is the calls' JSON");
        }
        if (spec.forced() && body.hasNonNull(ResponseFormat.GRAMMAR)) {
            throw ApiException.invalid("tool_choice", "'tool_choice' \"required\" or a named function cannot be combined with a "
                    + "'grammar': the answer is the calls' JSON");
        }
        if (spec.forced()) {
            for (int i = 0; i < functions.size(); i++) {
                Function fn = functions.get(i);
                if (named == null || named.equals(fn.name())) compiles(fn.parameters(), "tools[" + i + "].function.parameters");
            }
        }
        return spec;
    }

    private static Function function(JsonNode t, String at) {
        if (t == null || !t.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object {\"type\": \"function\", \"function\": {...}}");
        JsonNode type = t.get("type");
        if (type == null || !"function".equals(type.asText(null))) {
            throw ApiException.invalid(at + ".type", "'" + at + ".type' must be \"function\" (the only tool type supported), got " + type);
        }
        JsonNode fn = t.get("function");
        if (fn == null || !fn.isObject()) throw ApiException.invalid(at + ".function", "'" + at + ".function' must be an object with 'name'");
        JsonNode name = fn.get("name");
        if (name == null || !name.isTextual() || !NAME.matcher(name.textValue()).matches()) {
            throw ApiException.invalid(at + ".function.name", "'" + at + ".function.name' must be a string of 1 to 64 letters, digits, "
                    + "underscores or dashes, got " + name);
        }
        JsonNode d = fn.get("description");
        if (d != null && !d.isNull() && !d.isTextual()) throw ApiException.invalid(at + ".function.description", "'" + at + ".function.description' must be a string");
        JsonNode strict = fn.get("strict");
        if (strict != null && !strict.isNull() && !strict.isBoolean()) throw ApiException.invalid(at + ".function.strict", "'" + at + ".function.strict' must be a boolean");
        return new Function(name.textValue(), d == null || d.isNull() ? null : d.textValue(), parameters(fn.get("parameters"), at + ".function.parameters"));
    }

    /**
     * The arguments' schema: an object schema in the supported subset. Without "type" (or a combination that sets it)
     * "object" is implied, as arguments are always an object; with another type it is refused.
     */
    private static JsonNode parameters(JsonNode p, String at) {
        if (p == null || p.isNull()) return JsonNodeFactory.instance.objectNode().put("type", "object").set("properties", JsonNodeFactory.instance.objectNode());
        if (!p.isObject()) throw ApiException.invalid(at, "'" + at + "' must be a JSON schema object");
        ObjectNode schema = ((ObjectNode) p).deepCopy();
        JsonNode type = schema.get("type");
        if (type != null && !(type.isTextual() && type.textValue().equals("object"))) {
            throw ApiException.invalid(at, "'" + at + ".type' must be \"object\" (a function's arguments are an object), got " + type);
        }
        if (type == null && !schema.has("$ref") && !schema.has("anyOf") && !schema.has("allOf")) schema.put("type", "object");
        return schema;
    }

    /** A forced function's parameters must be enforceable: in the supported subset. */
    private static void compiles(JsonNode schema, String at) {
        try {
            SchemaCompiler.compile(schema);
        } catch (SchemaException e) {
            throw ApiException.invalid(at, "'" + at + "' " + e.getMessage() + " (needed when the call is forced by tool_choice)");
        }
    }
}
