package moge.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.server.sched.SequenceResult;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Answers in the shape of Anthropic's Messages API: a message whose content is a list of blocks (the reasoning as a
 * {@code thinking} block, the answer as {@code text}, each call as {@code tool_use} with its input as an object),
 * with {@code stop_reason} end_turn, max_tokens, stop_sequence or tool_use; or the same as the API's event stream
 * (message_start, content_block_start / _delta / _stop per block, message_delta with the stop reason and usage,
 * message_stop). Usage counts as Anthropic does: {@code input_tokens} are the prompt tokens not read from the cache,
 * {@code cache_read_input_tokens} the rest.
 */
final class MessagesWriter implements AnswerShape {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final String modelId;
    private final String id = "msg_" + hex() + hex();

    MessagesWriter(String modelId) {
        this.modelId = modelId;
    }

    private static String hex() {
        return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }

    /** An error in this API's shape: {"type": "error", "error": {"type", "message"}}. */
    static ObjectNode error(ApiException e) {
        ObjectNode o = F.objectNode().put("type", "error");
        o.putObject("error").put("type", errorType(e.status)).put("message", e.getMessage());
        return o;
    }

    private static String errorType(int status) {
        return switch (status) {
            case 400 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404, 405 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503 -> "overloaded_error";
            default -> "api_error";
        };
    }

    @Override
    public ObjectNode object(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
        CompletionWriter.Choice c = choices.getFirst();
        ObjectNode o = head();
        ArrayNode content = o.putArray("content");
        String reasoning = c.reasoning.toString(), text = c.content.toString();
        if (!reasoning.isEmpty()) content.addObject().put("type", "thinking").put("thinking", reasoning).put("signature", "");
        if (!text.isEmpty() || c.calls.isEmpty()) content.addObject().put("type", "text").put("text", text);
        for (ToolCallStream.ToolCall call : c.calls) content.add(toolUse(call, arguments(call)));
        o.put("stop_reason", stopReason(c));
        o.put("stop_sequence", c.seq.matchedStop());
        SequenceResult total = CompletionWriter.total(a, choices);
        o.set("usage", usage(total.promptTokens(), total.cachedTokens(), total.completionTokens()));
        o.set("timings", ResponseJson.timings(total));
        c.plan.decorate(o, c.reasoned);
        return o;
    }

    @Override
    public AnswerShape.Parts stream(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
        return new Events(a, choices);
    }

    private ObjectNode head() {
        return F.objectNode().put("id", id).put("type", "message").put("role", "assistant").put("model", modelId);
    }

    private static String stopReason(CompletionWriter.Choice c) {
        if (!c.calls.isEmpty()) return "tool_use";
        if ("length".equals(c.result.finishReason())) return "max_tokens";
        return c.seq.matchedStop() != null ? "stop_sequence" : "end_turn";
    }

    private static ObjectNode usage(int prompt, int cached, int output) {
        ObjectNode u = F.objectNode().put("input_tokens", prompt - cached);
        u.put("cache_creation_input_tokens", 0).put("cache_read_input_tokens", cached);
        return u.put("output_tokens", output);
    }

    private static ObjectNode toolUse(ToolCallStream.ToolCall call, JsonNode input) {
        ObjectNode b = F.objectNode().put("type", "tool_use").put("id", call.id()).put("name", call.name());
        b.set("input", input);
        return b;
    }

    /** A call's arguments as the object Anthropic's input is (they are JSON by construction; not an object: wrapped). */
    private static JsonNode arguments(ToolCallStream.ToolCall call) {
        try {
            JsonNode n = RequestParser.JSON.readTree(call.arguments());
            return n != null && n.isObject() ? n : F.objectNode().set("value", n);
        } catch (JsonProcessingException e) {
            return F.objectNode().put("value", call.arguments());
        }
    }

    /** The events of one streamed message: a block opens with its first text and closes when another kind follows. */
    private final class Events implements AnswerShape.Parts {
        private enum Open { NONE, THINKING, TEXT }

        private final CompletionWriter.Answer a;
        private final List<CompletionWriter.Choice> choices;
        private Open open = Open.NONE;
        private int index = -1;
        private boolean answered, callOpen;
        private int callsDone;

        Events(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
            this.a = a;
            this.choices = choices;
        }

        @Override
        public void begin(OutputStream out) throws IOException {
            CompletionWriter.Choice c = choices.getFirst();
            ObjectNode m = head();
            m.putArray("content");
            m.putNull("stop_reason").putNull("stop_sequence");
            m.set("usage", usage(c.seq.promptLength(), c.seq.cachedTokens(), 0));
            send(out, "message_start", F.objectNode().set("message", m));
            send(out, "ping", F.objectNode());
        }

        @Override
        public void pending(OutputStream out, CompletionWriter.Choice c) throws IOException {
            if (!c.reasoning.isEmpty()) {
                ensure(out, Open.THINKING);
                delta(out, F.objectNode().put("type", "thinking_delta").put("thinking", c.reasoning.toString()));
            }
            if (!c.content.isEmpty()) {
                ensure(out, Open.TEXT);
                delta(out, F.objectNode().put("type", "text_delta").put("text", c.content.toString()));
            }
            // a tool_use block opens with the call's head (id, name), its input follows piece by piece, and it
            // closes when the call is whole
            for (ToolCallStream.Delta d : c.deltas) {
                if (d.head()) {
                    close(out);
                    closeCall(out);
                    index++;
                    callOpen = true;
                    ToolCallStream.ToolCall head = new ToolCallStream.ToolCall(d.id(), d.name(), "");
                    send(out, "content_block_start", F.objectNode().put("index", index).set("content_block", toolUse(head, F.objectNode())));
                }
                if (d.arguments() != null && !d.arguments().isEmpty()) {
                    delta(out, F.objectNode().put("type", "input_json_delta").put("partial_json", d.arguments()));
                }
            }
            if (callOpen && c.calls.size() > callsDone) closeCall(out);
        }

        private void closeCall(OutputStream out) throws IOException {
            if (!callOpen) return;
            send(out, "content_block_stop", F.objectNode().put("index", index));
            callOpen = false;
            callsDone++;
        }

        @Override
        public void finished(OutputStream out, CompletionWriter.Choice c) throws IOException {
            closeCall(out);
            // an answer with neither text nor calls still has its (empty) text block, as the whole message does
            if (!answered && c.calls.isEmpty()) ensure(out, Open.TEXT);
            close(out);
        }

        @Override
        public void failed(OutputStream out, ApiException e) throws IOException {
            ObjectNode err = error(e);
            err.remove("type");
            send(out, "error", err);
        }

        @Override
        public void end(OutputStream out) throws IOException {
            CompletionWriter.Choice c = choices.getFirst();
            SequenceResult total = CompletionWriter.total(a, choices);
            ObjectNode d = F.objectNode();
            d.putObject("delta").put("stop_reason", stopReason(c)).put("stop_sequence", c.seq.matchedStop());
            d.set("usage", usage(total.promptTokens(), total.cachedTokens(), total.completionTokens()));
            send(out, "message_delta", d);
            send(out, "message_stop", F.objectNode());
        }

        private void ensure(OutputStream out, Open kind) throws IOException {
            if (open == kind) return;
            close(out);
            closeCall(out);
            open = kind;
            answered |= kind == Open.TEXT;
            index++;
            ObjectNode block = kind == Open.THINKING ? F.objectNode().put("type", "thinking").put("thinking", "").put("signature", "")
                    : F.objectNode().put("type", "text").put("text", "");
            send(out, "content_block_start", F.objectNode().put("index", index).set("content_block", block));
        }

        private void close(OutputStream out) throws IOException {
            if (open == Open.NONE) return;
            send(out, "content_block_stop", F.objectNode().put("index", index));
            open = Open.NONE;
        }

        private void delta(OutputStream out, ObjectNode delta) throws IOException {
            send(out, "content_block_delta", F.objectNode().put("index", index).set("delta", delta));
        }

        private void send(OutputStream out, String type, ObjectNode body) throws IOException {
            ObjectNode e = F.objectNode().put("type", type);
            e.setAll(body);
            out.write(("event: " + type + "\ndata: " + e + "\n\n").getBytes(StandardCharsets.UTF_8));
        }
    }
}
