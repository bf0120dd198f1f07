package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Map;

/**
 * A request of Anthropic's Messages API (POST /v1/messages, as llama-server and vLLM serve it for Claude Code and
 * the Anthropic SDKs) read as the chat completion it asks for: {@code system} becomes the system turn, content
 * blocks become text, {@code tool_use} blocks the assistant's tool calls and {@code tool_result} blocks tool turns,
 * {@code tools} (name, description, input_schema) function tools, and {@code thinking} the thinking mode.
 * Images, documents and Anthropic's server tools (web search, code execution, ...) are 400s naming the block or tool.
 *
 * @param chat the chat/completions body the request amounts to
 */
record MessagesRequest(ObjectNode chat) {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    /** Fields passed on as they are: the API's own, and the chat extensions that do not clash with its names. */
    private static final List<String> SAME = List.of("model", "max_tokens", "stream", "temperature", "top_p", "top_k", "seed",
            "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "min_tokens", "stop_token_ids",
            "ignore_eos", "chat_template_kwargs", "speculative", "grammar");
    /** Chat field names in errors, and what this API calls them. */
    private static final List<Map.Entry<String, String>> NAMES = List.of(Map.entry("stop", "stop_sequences"),
            Map.entry("max_completion_tokens", "max_tokens"), Map.entry("thinking.budget", "thinking.budget_tokens"));

    /** A /v1/messages request; {@code counting}: a count_tokens one, which has no max_tokens. */
    static MessagesRequest parse(ObjectNode body, boolean counting) {
        Fields f = new Fields(body);
        if (!counting && !f.has("max_tokens")) throw ApiException.invalid("max_tokens", "'max_tokens' is required");
        ObjectNode chat = F.objectNode();
        for (String name : SAME) if (body.has(name)) chat.set(name, body.get(name));
        ArrayNode messages = chat.putArray("messages");
        JsonNode system = f.node("system");
        if (system != null) messages.addObject().put("role", "system").put("content", system.isTextual() ? system.textValue() : text(system, "system"));
        JsonNode in = f.node("messages");
        if (in == null) throw ApiException.invalid("messages", "'messages' is required");
        if (!in.isArray() || in.isEmpty()) throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        for (int i = 0; i < in.size(); i++) message(in.get(i), "messages[" + i + "]", messages);
        JsonNode stops = f.node("stop_sequences");
        if (stops != null) {
            if (!stops.isArray()) throw ApiException.invalid("stop_sequences", "'stop_sequences' must be an array of strings");
            chat.set("stop", stops);
        }
        ObjectNode metadata = f.object("metadata");
        if (metadata != null && metadata.hasNonNull("user_id")) chat.set("user", metadata.get("user_id"));
        JsonNode tools = f.node("tools");
        if (tools != null) chat.set("tools", tools(tools));
        ObjectNode choice = f.object("tool_choice");
        if (choice != null) toolChoice(choice, chat);
        ObjectNode thinking = f.object("thinking");
        if (thinking != null) chat.set("thinking", thinking(thinking));
        return new MessagesRequest(chat);
    }

    /** The error of the chat request this one became, with this API's field names. */
    ApiException rename(ApiException e) {
        if (e.param == null) return e;
        String param = e.param, message = e.getMessage();
        for (Map.Entry<String, String> n : NAMES) {
            if (param.equals(n.getKey()) || param.startsWith(n.getKey() + "[")) {
                param = n.getValue() + param.substring(n.getKey().length());
                break;
            }
        }
        param = param.replaceFirst("^tools\\[(\\d+)]\\.function\\.parameters", "tools[$1].input_schema")
                .replaceFirst("^tools\\[(\\d+)]\\.function\\.", "tools[$1].");
        // a turn's place differs (the system turn comes first, tool results become turns of their own)
        if (param.startsWith("messages[")) param = "messages";
        for (Map.Entry<String, String> n : NAMES) message = message.replace("'" + n.getKey() + "'", "'" + n.getValue() + "'");
        return new ApiException(e.status, e.type, param, e.code, message);
    }

    private static void message(JsonNode m, String at, ArrayNode messages) {
        if (!m.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object");
        String role = m.path("role").asText("");
        if (!role.equals("user") && !role.equals("assistant")) {
            throw ApiException.invalid(at + ".role", "'" + at + ".role' must be user or assistant; got '" + role + "'");
        }
        JsonNode c = m.get("content");
        if (c == null || c.isNull()) throw ApiException.invalid(at + ".content", "'" + at + ".content' is required");
        if (c.isTextual()) {
            messages.addObject().put("role", role).put("content", c.textValue());
            return;
        }
        if (!c.isArray()) throw ApiException.invalid(at + ".content", "'" + at + ".content' must be a string or an array of content blocks");
        StringBuilder text = new StringBuilder();
        ArrayNode calls = F.arrayNode();
        for (int j = 0; j < c.size(); j++) {
            String bat = at + ".content[" + j + "]";
            JsonNode b = c.get(j);
            if (!b.isObject()) throw ApiException.invalid(bat, "'" + bat + "' must be an object");
            String type = b.path("type").asText("");
            switch (type) {
                case "text" -> text.append(string(b, "text", bat));
                // the model's earlier thinking: chat templates leave it out of the prompt, and so does this server
                case "thinking", "redacted_thinking" -> { }
                case "tool_use" -> {
                    if (!role.equals("assistant")) throw ApiException.invalid(bat + ".type", "'" + bat + "' tool_use blocks belong in assistant turns");
                    JsonNode input = b.get("input");
                    if (input == null || !input.isObject()) throw ApiException.invalid(bat + ".input", "'" + bat + ".input' must be an object");
                    ObjectNode call = calls.addObject().put("id", string(b, "id", bat)).put("type", "function");
                    call.putObject("function").put("name", string(b, "name", bat)).put("arguments", input.toString());
                }
                case "tool_result" -> {
                    if (!role.equals("user")) throw ApiException.invalid(bat + ".type", "'" + bat + "' tool_result blocks belong in user turns");
                    // results answer the calls of the turn before, so they come before this turn's own text
                    JsonNode r = b.get("content");
                    String out = r == null || r.isNull() ? "" : r.isTextual() ? r.textValue() : text(r, bat + ".content");
                    if (b.path("is_error").asBoolean(false)) out = "Error: " + out;
                    messages.addObject().put("role", "tool").put("tool_call_id", string(b, "tool_use_id", bat)).put("content", out);
                }
                default -> throw ApiException.invalid(bat + ".type", "'" + bat + ".type' '" + type + "' is not supported: this server "
                        + "reads text, tool_use, tool_result and thinking blocks");
            }
        }
        if (!calls.isEmpty()) {
            ObjectNode turn = messages.addObject().put("role", "assistant");
            if (text.isEmpty()) turn.putNull("content"); else turn.put("content", text.toString());
            turn.set("tool_calls", calls);
        } else if (!text.isEmpty() || role.equals("assistant")) {
            messages.addObject().put("role", role).put("content", text.toString());
        }
    }

    /** Text blocks joined (system prompts and tool results may be given as blocks). */
    private static String text(JsonNode blocks, String at) {
        return Fields.joinedText(blocks, at, java.util.Set.of("text"), "text blocks");
    }

    private static String string(JsonNode o, String name, String at) {
        return Fields.requiredString(o, name, at);
    }

    /** Client tools ({name, description, input_schema}) into function tools; server tools are a 400. */
    private static ArrayNode tools(JsonNode tools) {
        ArrayNode out = F.arrayNode();
        List<JsonNode> list = Fields.objects(tools, "tools");
        for (int i = 0; i < list.size(); i++) {
            String at = "tools[" + i + "]";
            JsonNode t = list.get(i);
            String type = t.path("type").asText("custom");
            if (!type.equals("custom")) {
                throw ApiException.invalid(at + ".type", "'" + at + ".type' '" + type + "' is not supported: this server runs the client's "
                        + "own tools (name, description, input_schema), not Anthropic's server tools");
            }
            ObjectNode fn = F.objectNode().put("name", string(t, "name", at));
            if (t.hasNonNull("description")) fn.set("description", t.get("description"));
            JsonNode schema = t.get("input_schema");
            if (schema == null || !schema.isObject()) throw ApiException.invalid(at + ".input_schema", "'" + at + ".input_schema' must be an object");
            fn.set("parameters", schema);
            out.addObject().put("type", "function").set("function", fn);
        }
        return out;
    }

    /** {type: auto | any | tool | none} into chat's tool_choice; disable_parallel_tool_use into parallel_tool_calls. */
    private static void toolChoice(ObjectNode c, ObjectNode chat) {
        String type = c.path("type").asText("");
        switch (type) {
            case "auto", "none" -> chat.put("tool_choice", type);
            case "any" -> chat.put("tool_choice", "required");
            case "tool" -> {
                ObjectNode named = chat.putObject("tool_choice").put("type", "function");
                named.putObject("function").put("name", string(c, "name", "tool_choice"));
            }
            default -> throw ApiException.invalid("tool_choice.type", "'tool_choice.type' must be auto, any, tool or none; got '" + type + "'");
        }
        if (c.path("disable_parallel_tool_use").asBoolean(false)) chat.put("parallel_tool_calls", false);
    }

    /** enabled (with budget_tokens) thinks (slow mode, that budget); disabled answers at once (fast mode). */
    private static ObjectNode thinking(ObjectNode t) {
        String type = t.path("type").asText("");
        return switch (type) {
            case "enabled" -> {
                ObjectNode o = F.objectNode().put("mode", "slow");
                if (t.has("budget_tokens")) o.set("budget", t.get("budget_tokens"));
                yield o;
            }
            case "disabled" -> F.objectNode().put("mode", "fast");
            case "adaptive" -> F.objectNode().put("mode", "auto");
            default -> throw ApiException.invalid("thinking.type", "'thinking.type' must be enabled, disabled or adaptive; got '" + type + "'");
        };
    }
}
