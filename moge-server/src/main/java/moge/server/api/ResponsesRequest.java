package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A request of OpenAI's Responses API (POST /v1/responses) read as the chat completion it asks for, so that one
 * path (parsing, thinking modes, constraints, tools, the scheduler) serves both APIs. This server keeps nothing
 * between requests: {@code store} is accepted and ignored, and what needs stored state ({@code previous_response_id},
 * {@code conversation}, {@code background}, item references) is a 400 that says to send the whole conversation.
 * Only text goes in and out: image, file and audio parts, and the hosted tools (web search, file search, ...), are
 * 400s naming the part.
 *
 * @param chat  the chat/completions body the request amounts to
 * @param echo  the request's settings as the response object repeats them (instructions, tools, text, ...)
 * @param logprobs whether output_text parts carry log-probabilities (include "message.output_text.logprobs" or
 *                 top_logprobs)
 */
record ResponsesRequest(ObjectNode chat, ObjectNode echo, boolean logprobs) {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    /** Fields passed to the chat request as they are: the API's own, and the extensions chat/completions accepts. */
    private static final List<String> SAME = List.of("model", "stream", "temperature", "top_p", "parallel_tool_calls", "user",
            "seed", "stop", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "repeat_penalty",
            "repeat_last_n", "logit_bias", "min_tokens", "stop_token_ids", "ignore_eos", "thinking", "thinking_budget",
            "chat_template_kwargs", "speculative", "grammar");
    private static final Set<String> ROLES = Set.of("user", "system", "developer", "assistant");
    /** Chat field names in errors, and what the Responses API calls them (the longest match first). */
    private static final List<Map.Entry<String, String>> NAMES = List.of(
            Map.entry("response_format.json_schema", "text.format"), Map.entry("response_format", "text.format"),
            Map.entry("max_completion_tokens", "max_output_tokens"), Map.entry("reasoning_effort", "reasoning.effort"),
            Map.entry("messages", "input"));

    static ResponsesRequest parse(ObjectNode body) {
        Fields f = new Fields(body);
        for (String stateful : List.of("previous_response_id", "conversation", "prompt")) {
            if (f.has(stateful)) {
                throw ApiException.invalid(stateful, "'" + stateful + "' is not supported: this server keeps no responses, "
                        + "conversations or stored prompts; send the whole conversation in 'input'");
            }
        }
        if (f.bool("background", false)) {
            throw ApiException.invalid("background", "'background' is not supported: this server keeps no responses to poll; "
                    + "use stream: true for long answers");
        }
        f.bool("store", false);
        ObjectNode chat = F.objectNode(), echo = F.objectNode();
        for (String name : SAME) if (body.has(name)) chat.set(name, body.get(name));
        ArrayNode messages = chat.putArray("messages");
        String instructions = f.string("instructions", null);
        if (instructions != null) messages.addObject().put("role", "system").put("content", instructions);
        input(f.node("input"), messages);
        if (f.has("max_output_tokens")) chat.set("max_completion_tokens", body.get("max_output_tokens"));
        boolean logprobs = includesLogprobs(f);
        if (f.has("top_logprobs")) chat.set("top_logprobs", body.get("top_logprobs"));
        if (logprobs) chat.put("logprobs", true);
        ObjectNode text = f.object("text");
        JsonNode format = text == null ? null : text.get("format");
        if (format != null && !format.isNull()) chat.set("response_format", responseFormat(format));
        ObjectNode reasoning = f.object("reasoning");
        if (reasoning != null && reasoning.hasNonNull("effort")) chat.set("reasoning_effort", reasoning.get("effort"));
        JsonNode tools = f.node("tools");
        if (tools != null) chat.set("tools", tools(tools));
        JsonNode choice = f.node("tool_choice");
        if (choice != null) chat.set("tool_choice", toolChoice(choice));
        String truncation = f.string("truncation", "disabled");
        if (!truncation.equals("disabled") && !truncation.equals("auto")) {
            throw ApiException.invalid("truncation", "'truncation' must be \"disabled\" or \"auto\", got '" + truncation + "'");
        }

        echo.put("instructions", instructions);
        echo.set("max_output_tokens", f.has("max_output_tokens") ? body.get("max_output_tokens") : F.nullNode());
        echo.set("temperature", f.has("temperature") ? body.get("temperature") : F.numberNode(1.0));
        echo.set("top_p", f.has("top_p") ? body.get("top_p") : F.numberNode(1.0));
        echo.put("parallel_tool_calls", f.bool("parallel_tool_calls", true));
        echo.set("tools", tools != null ? tools : F.arrayNode());
        echo.set("tool_choice", choice != null ? choice : F.textNode("auto"));
        ObjectNode t = echo.putObject("text");
        t.set("format", format != null && !format.isNull() ? format : F.objectNode().put("type", "text"));
        ObjectNode r = echo.putObject("reasoning");
        r.set("effort", reasoning != null && reasoning.hasNonNull("effort") ? reasoning.get("effort") : F.nullNode());
        r.putNull("summary");
        echo.set("top_logprobs", f.has("top_logprobs") ? body.get("top_logprobs") : F.nullNode());
        echo.put("truncation", truncation);
        echo.put("user", f.string("user", null));
        ObjectNode metadata = f.object("metadata");
        echo.set("metadata", metadata != null ? metadata : F.objectNode());
        return new ResponsesRequest(chat, echo, logprobs);
    }

    /** The error of the chat request this one became, with the Responses API's field names. */
    ApiException rename(ApiException e) {
        if (e.param == null) return e;
        String param = e.param, message = e.getMessage();
        for (Map.Entry<String, String> n : NAMES) {
            if (param.startsWith(n.getKey())) {
                // messages[k] is not input[k] (instructions come first, calls merge into one turn): name the field only
                param = n.getKey().equals("messages") ? "input" : n.getValue() + param.substring(n.getKey().length());
                break;
            }
        }
        param = param.replaceFirst("^tools\\[(\\d+)]\\.function\\.", "tools[$1].");
        for (Map.Entry<String, String> n : NAMES) {
            // "messages" is also a word; the other chat names are not
            message = n.getKey().equals("messages") ? message.replace("'messages'", "'input'") : message.replace(n.getKey(), n.getValue());
        }
        return new ApiException(e.status, e.type, param, e.code, message);
    }

    private static boolean includesLogprobs(Fields f) {
        JsonNode include = f.node("include");
        boolean wanted = f.has("top_logprobs");
        if (include == null) return wanted;
        if (!include.isArray()) throw ApiException.invalid("include", "'include' must be an array of strings");
        for (int i = 0; i < include.size(); i++) {
            JsonNode v = include.get(i);
            if (!v.isTextual()) throw ApiException.invalid("include[" + i + "]", "'include[" + i + "]' must be a string");
            // the others (encrypted reasoning, search results, image URLs) have nothing to add here
            if (v.textValue().equals("message.output_text.logprobs")) wanted = true;
        }
        return wanted;
    }

    /** input: a string (one user turn) or a list of items, into chat messages. */
    private static void input(JsonNode input, ArrayNode messages) {
        if (input == null) throw ApiException.invalid("input", "'input' is required");
        if (input.isTextual()) {
            messages.addObject().put("role", "user").put("content", input.textValue());
            return;
        }
        if (!input.isArray()) throw ApiException.invalid("input", "'input' must be a string or an array of input items");
        if (input.isEmpty()) throw ApiException.invalid("input", "'input' must contain at least one item");
        for (int i = 0; i < input.size(); i++) {
            String at = "input[" + i + "]";
            JsonNode item = input.get(i);
            if (!item.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object");
            String type = item.hasNonNull("type") ? item.get("type").asText("") : item.has("role") ? "message" : "";
            switch (type) {
                case "message" -> message(item, at, messages);
                case "function_call" -> call(item, at, messages);
                case "function_call_output" -> {
                    ObjectNode m = messages.addObject().put("role", "tool");
                    m.put("tool_call_id", text(item, "call_id", at));
                    JsonNode out = item.get("output");
                    if (out == null || out.isNull()) throw ApiException.invalid(at + ".output", "'" + at + ".output' is required");
                    m.put("content", out.isTextual() ? out.textValue() : parts(out, at + ".output"));
                }
                // a model's earlier reasoning: chat templates leave it out of the prompt, and so does this server
                case "reasoning" -> { }
                default -> throw ApiException.invalid(at + ".type", "'" + at + ".type' '" + type + "' is not supported here: input "
                        + "items are messages, function_call, function_call_output and reasoning (this server keeps no items to reference)");
            }
        }
    }

    private static void message(JsonNode item, String at, ArrayNode messages) {
        String role = text(item, "role", at);
        if (!ROLES.contains(role)) {
            throw ApiException.invalid(at + ".role", "'" + at + ".role' must be one of user, system, developer, assistant; got '" + role + "'");
        }
        JsonNode c = item.get("content");
        if (c == null || c.isNull()) throw ApiException.invalid(at + ".content", "'" + at + ".content' is required");
        messages.addObject().put("role", role).put("content", c.isTextual() ? c.textValue() : parts(c, at + ".content"));
    }

    /** A call the model made earlier: joins the assistant turn before it (its text, or calls made together). */
    private static void call(JsonNode item, String at, ArrayNode messages) {
        ObjectNode fn = F.objectNode().put("name", text(item, "name", at)).put("arguments", text(item, "arguments", at));
        ObjectNode call = F.objectNode().put("id", text(item, "call_id", at)).put("type", "function");
        call.set("function", fn);
        JsonNode last = messages.isEmpty() ? null : messages.get(messages.size() - 1);
        ObjectNode turn = last != null && "assistant".equals(last.path("role").asText()) ? (ObjectNode) last
                : messages.addObject().put("role", "assistant").putNull("content");
        turn.withArray("tool_calls").add(call);
    }

    /** Text parts (input_text, output_text) joined; any other part (an image, a file) is a 400 naming it. */
    private static String parts(JsonNode c, String at) {
        return Fields.joinedText(c, at, Set.of("input_text", "output_text"), "text parts (input_text, output_text)");
    }

    private static String text(JsonNode o, String name, String at) {
        return Fields.requiredString(o, name, at);
    }

    /** text.format into response_format: text, json_object, or json_schema {name, schema, strict} (flat here, nested there). */
    private static JsonNode responseFormat(JsonNode format) {
        if (!format.isObject()) throw ApiException.invalid("text.format", "'text.format' must be an object");
        String type = format.path("type").asText("");
        return switch (type) {
            case "text", "json_object" -> F.objectNode().put("type", type);
            case "json_schema" -> {
                ObjectNode schema = ((ObjectNode) format).deepCopy();
                schema.remove("type");
                ObjectNode rf = F.objectNode().put("type", "json_schema");
                rf.set("json_schema", schema);
                yield rf;
            }
            default -> throw ApiException.invalid("text.format.type", "'text.format.type' must be text, json_object or json_schema; got '"
                    + type + "'");
        };
    }

    /** Function tools, flat here ({type, name, parameters}), nested in chat ({type, function: {name, parameters}}). */
    private static ArrayNode tools(JsonNode tools) {
        ArrayNode out = F.arrayNode();
        List<JsonNode> list = Fields.objects(tools, "tools");
        for (int i = 0; i < list.size(); i++) {
            String at = "tools[" + i + "]";
            JsonNode t = list.get(i);
            String type = t.path("type").asText("");
            if (!type.equals("function")) {
                throw ApiException.invalid(at + ".type", "'" + at + ".type' '" + type + "' is not supported: this server runs "
                        + "function tools only (the hosted tools need OpenAI's services)");
            }
            ObjectNode fn = ((ObjectNode) t).deepCopy();
            fn.remove("type");
            ObjectNode c = out.addObject().put("type", "function");
            c.set("function", fn);
        }
        return out;
    }

    private static JsonNode toolChoice(JsonNode choice) {
        if (choice.isTextual()) return choice;
        if (!choice.isObject() || !"function".equals(choice.path("type").asText())) {
            throw ApiException.invalid("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                    + "{\"type\": \"function\", \"name\": ...}");
        }
        ObjectNode c = F.objectNode().put("type", "function");
        c.putObject("function").put("name", text(choice, "name", "tool_choice"));
        return c;
    }
}
