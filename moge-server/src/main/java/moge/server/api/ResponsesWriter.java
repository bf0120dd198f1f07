package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.generate.Step;
import moge.server.sched.SequenceResult;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Answers in the shape of OpenAI's Responses API: a response object whose output is a list of items (the
 * reasoning, kept apart as a {@code reasoning} item with {@code reasoning_text} content; the answer as a
 * {@code message} with an {@code output_text} part; each tool call as a {@code function_call}), or the same as
 * a stream of typed events ({@code response.created}, {@code response.output_item.added}, text deltas, ...,
 * {@code response.completed}), each with its sequence number. One choice: the API has no {@code n}.
 */
final class ResponsesWriter implements AnswerShape {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final TokenText tokenText;
    private final String modelId;
    private final ResponsesRequest q;
    private final String id = "resp_" + hex();
    private final long created = System.currentTimeMillis() / 1000;

    ResponsesWriter(TokenText tokenText, String modelId, ResponsesRequest q) {
        this.tokenText = tokenText;
        this.modelId = modelId;
        this.q = q;
    }

    private static String hex() {
        return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }

    @Override
    public ObjectNode object(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
        CompletionWriter.Choice c = choices.getFirst();
        ArrayNode output = F.arrayNode();
        String reasoning = c.reasoning.toString(), content = c.content.toString();
        if (!reasoning.isEmpty()) output.add(reasoningItem("rs_" + hex(), reasoning, "completed"));
        if (!content.isEmpty() || c.calls.isEmpty()) output.add(messageItem("msg_" + hex(), content, logprobs(c.steps), status(c)));
        for (ToolCallStream.ToolCall call : c.calls) output.add(callItem("fc_" + hex(), call, call.arguments(), "completed"));
        return response(status(c), output, CompletionWriter.total(a, choices), c);
    }

    @Override
    public AnswerShape.Parts stream(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
        return new Events(a, choices);
    }

    /** "incomplete" when the output ran into max_output_tokens; the other ends complete the response. */
    private static String status(CompletionWriter.Choice c) {
        return "length".equals(c.result.finishReason()) ? "incomplete" : "completed";
    }

    private ObjectNode response(String status, ArrayNode output, SequenceResult usage, CompletionWriter.Choice c) {
        ObjectNode o = F.objectNode();
        o.put("id", id);
        o.put("object", "response");
        o.put("created_at", created);
        o.put("status", status);
        o.put("background", false);
        o.putNull("error");
        if (status.equals("incomplete")) o.putObject("incomplete_details").put("reason", "max_output_tokens");
        else o.putNull("incomplete_details");
        o.put("model", modelId);
        o.set("output", output);
        o.putNull("previous_response_id");
        o.put("store", false);
        o.setAll(q.echo());
        if (usage == null) {
            o.putNull("usage");
            return o;
        }
        ObjectNode u = o.putObject("usage");
        u.put("input_tokens", usage.promptTokens());
        u.putObject("input_tokens_details").put("cached_tokens", usage.cachedTokens());
        u.put("output_tokens", usage.completionTokens());
        u.putObject("output_tokens_details").put("reasoning_tokens", usage.reasoningTokens());
        u.put("total_tokens", usage.promptTokens() + usage.completionTokens());
        o.set("timings", ResponseJson.timings(usage));
        c.plan.decorate(o, c.reasoned);
        return o;
    }

    /** Chat's log-probability entries ({token, logprob, bytes, top_logprobs}), or none when not asked for. */
    private ArrayNode logprobs(List<Step> steps) {
        if (!q.logprobs() || steps.isEmpty()) return F.arrayNode();
        return (ArrayNode) ResponseJson.chatLogprobs(steps, tokenText).get("content");
    }

    /** A reasoning item; {@code text} null while it is being streamed (its content part comes in events). */
    private static ObjectNode reasoningItem(String id, String text, String status) {
        ObjectNode o = F.objectNode().put("id", id).put("type", "reasoning");
        o.putArray("summary");
        ArrayNode content = o.putArray("content");
        if (text != null) content.addObject().put("type", "reasoning_text").put("text", text);
        return o.put("status", status);
    }

    private static ObjectNode messageItem(String id, String text, ArrayNode logprobs, String status) {
        ObjectNode o = F.objectNode().put("id", id).put("type", "message").put("status", status).put("role", "assistant");
        ArrayNode content = o.putArray("content");
        if (text != null) content.add(outputText(text, logprobs));
        return o;
    }

    private static ObjectNode outputText(String text, ArrayNode logprobs) {
        ObjectNode p = F.objectNode().put("type", "output_text").put("text", text);
        p.putArray("annotations");
        p.set("logprobs", logprobs);
        return p;
    }

    private static ObjectNode callItem(String id, ToolCallStream.ToolCall call, String arguments, String status) {
        return F.objectNode().put("id", id).put("type", "function_call").put("status", status).put("call_id", call.id())
                .put("name", call.name()).put("arguments", arguments);
    }

    /**
     * The events of one streamed response. Output items open when their first text arrives and close when text of
     * another kind (reasoning, then the answer) or a tool call follows, or at the end.
     */
    private final class Events implements AnswerShape.Parts {
        private enum Open { NONE, REASONING, MESSAGE }

        private final CompletionWriter.Answer a;
        private final List<CompletionWriter.Choice> choices;
        private final ArrayNode output = F.arrayNode();
        private final StringBuilder text = new StringBuilder();
        private ArrayNode textLogprobs = F.arrayNode();
        private Open open = Open.NONE;
        private String itemId;
        private boolean answered;
        private int sequence;
        /** Each call's item id and output index, by the call's index; the calls before callsDone are closed. */
        private final List<String> callItems = new java.util.ArrayList<>();
        private final List<Integer> callIndexes = new java.util.ArrayList<>();
        private int callsDone;

        Events(CompletionWriter.Answer a, List<CompletionWriter.Choice> choices) {
            this.a = a;
            this.choices = choices;
        }

        @Override
        public void begin(OutputStream out) throws IOException {
            ObjectNode r = response("in_progress", F.arrayNode(), null, null);
            send(out, "response.created", event().set("response", r));
            send(out, "response.in_progress", event().set("response", r));
        }

        @Override
        public void pending(OutputStream out, CompletionWriter.Choice c) throws IOException {
            if (!c.reasoning.isEmpty()) {
                ensure(out, Open.REASONING, c);
                send(out, "response.reasoning_text.delta", part().put("delta", c.reasoning.toString()));
                text.append(c.reasoning);
            }
            ArrayNode lp = logprobs(c.steps);
            if (!c.content.isEmpty()) {
                ensure(out, Open.MESSAGE, c);
                ObjectNode e = part().put("delta", c.content.toString());
                e.set("logprobs", lp);
                send(out, "response.output_text.delta", e);
                text.append(c.content);
                textLogprobs.addAll(lp);
            }
            // a call opens with its head (id, name), its arguments follow piece by piece, it closes once whole
            for (ToolCallStream.Delta d : c.deltas) {
                if (d.head()) {
                    close(out, c);
                    String fc = "fc_" + hex();
                    callItems.add(fc);
                    callIndexes.add(output.size() + callItems.size() - 1 - callsDone);
                    ToolCallStream.ToolCall head = new ToolCallStream.ToolCall(d.id(), d.name(), "");
                    send(out, "response.output_item.added", event().put("output_index", callIndexes.getLast())
                            .set("item", callItem(fc, head, "", "in_progress")));
                }
                if (d.arguments() != null && !d.arguments().isEmpty()) {
                    send(out, "response.function_call_arguments.delta", event().put("item_id", callItems.get(d.index()))
                            .put("output_index", callIndexes.get(d.index())).put("delta", d.arguments()));
                }
            }
            closeCalls(out, c);
        }

        /** Calls that are whole now: their arguments' done event and the finished item. */
        private void closeCalls(OutputStream out, CompletionWriter.Choice c) throws IOException {
            for (; callsDone < c.calls.size() && callsDone < callItems.size(); callsDone++) {
                ToolCallStream.ToolCall call = c.calls.get(callsDone);
                String fc = callItems.get(callsDone);
                int index = callIndexes.get(callsDone);
                send(out, "response.function_call_arguments.done", event().put("item_id", fc).put("output_index", index)
                        .put("name", call.name()).put("arguments", call.arguments()));
                ObjectNode done = callItem(fc, call, call.arguments(), c.result != null ? status(c) : "completed");
                send(out, "response.output_item.done", event().put("output_index", index).set("item", done));
                output.add(done);
            }
        }

        @Override
        public void finished(OutputStream out, CompletionWriter.Choice c) throws IOException {
            closeCalls(out, c);
            // an answer with neither text nor calls still has its (empty) message, as the whole response does
            if (!answered && c.calls.isEmpty()) ensure(out, Open.MESSAGE, c);
            close(out, c);
        }

        @Override
        public void failed(OutputStream out, ApiException e) throws IOException {
            ObjectNode ev = event().put("code", e.code).put("message", e.getMessage());
            if (e.param != null) ev.put("param", e.param); else ev.putNull("param");
            send(out, "error", ev);
        }

        @Override
        public void end(OutputStream out) throws IOException {
            CompletionWriter.Choice c = choices.getFirst();
            String status = status(c);
            ObjectNode r = response(status, output, CompletionWriter.total(a, choices), c);
            send(out, status.equals("incomplete") ? "response.incomplete" : "response.completed", event().set("response", r));
        }

        /** Opens an item of kind {@code kind} unless one is open: its output_item.added and content_part.added events. */
        private void ensure(OutputStream out, Open kind, CompletionWriter.Choice c) throws IOException {
            if (open == kind) return;
            close(out, c);
            open = kind;
            answered |= kind == Open.MESSAGE;
            itemId = (kind == Open.REASONING ? "rs_" : "msg_") + hex();
            ObjectNode item = kind == Open.REASONING ? reasoningItem(itemId, null, "in_progress")
                    : messageItem(itemId, null, null, "in_progress");
            send(out, "response.output_item.added", event().put("output_index", output.size()).set("item", item));
            send(out, "response.content_part.added", part().set("part", emptyPart()));
        }

        private ObjectNode emptyPart() {
            return open == Open.REASONING ? F.objectNode().put("type", "reasoning_text").put("text", "")
                    : outputText("", F.arrayNode());
        }

        /** Closes the open item: its text's done event, content_part.done and output_item.done with the whole item. */
        private void close(OutputStream out, CompletionWriter.Choice c) throws IOException {
            if (open == Open.NONE) return;
            String whole = text.toString();
            ObjectNode item;
            if (open == Open.REASONING) {
                send(out, "response.reasoning_text.done", part().put("text", whole));
                send(out, "response.content_part.done", part().set("part", F.objectNode().put("type", "reasoning_text").put("text", whole)));
                item = reasoningItem(itemId, whole, "completed");
            } else {
                ObjectNode done = part().put("text", whole);
                done.set("logprobs", textLogprobs);
                send(out, "response.output_text.done", done);
                send(out, "response.content_part.done", part().set("part", outputText(whole, textLogprobs)));
                // an answer cut by max_output_tokens is incomplete; one followed by a tool call is not
                item = messageItem(itemId, whole, textLogprobs, c.result != null ? status(c) : "completed");
            }
            send(out, "response.output_item.done", event().put("output_index", output.size()).set("item", item));
            output.add(item);
            text.setLength(0);
            textLogprobs = F.arrayNode();
            open = Open.NONE;
        }

        private ObjectNode event() {
            return F.objectNode();
        }

        /** An event about the open item's content part. */
        private ObjectNode part() {
            return event().put("item_id", itemId).put("output_index", output.size()).put("content_index", 0);
        }

        private void send(OutputStream out, String type, JsonNode body) throws IOException {
            ObjectNode e = F.objectNode().put("type", type).put("sequence_number", sequence++);
            e.setAll((ObjectNode) body);
            out.write(("event: " + type + "\ndata: " + e + "\n\n").getBytes(StandardCharsets.UTF_8));
        }
    }
}
