package moge.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import moge.generate.Step;
import moge.server.sched.Scheduler;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers a completion whose choices run in the scheduler: one JSON object once every choice has finished, or a
 * server-sent event stream of chunks (each naming its choice's index) ending in {@code data: [DONE]}. The client
 * leaving cancels every choice.
 */
final class CompletionWriter implements AnswerShape {
    private static final long POLL_MS = 50;

    private final Scheduler scheduler;
    private final TokenText tokenText;
    private final String modelId;

    CompletionWriter(Scheduler scheduler, TokenText tokenText, String modelId) {
        this.scheduler = scheduler;
        this.tokenText = tokenText;
        this.modelId = modelId;
    }

    /** What every response of one request shares; {@code earlier}: the cost of rejected attempts (n = 1 only). */
    record Answer(CompletionRequest r, SequenceResult earlier, String id, long created, Echo echo) {
        /** Where the generated text starts in a choice's text: after the echoed prompt, if any. */
        int echoed() {
            return echo == null ? 0 : echo.text().length();
        }
    }

    /**
     * The prompt a completion with echo repeats before its output: its text, its ids, and their log-probabilities
     * (positions 1.. of the prompt; null unless logprobs were asked for).
     */
    record Echo(String text, int[] ids, List<Step> steps) {
    }

    /** One choice being answered: its sequence, how its text splits, and what it has produced and not yet sent. */
    static final class Choice {
        final int index;
        final SequenceState seq;
        final RequestPlan plan;
        private final OutputSplitter splitter;
        private final ContentSteps logprobs;
        private final ToolCallStream tools;
        final StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        /** Every call found so far (whole), and the parts of calls not yet streamed. */
        final List<ToolCallStream.ToolCall> calls = new ArrayList<>();
        final List<ToolCallStream.Delta> deltas = new ArrayList<>();
        final List<Step> steps = new ArrayList<>();
        SequenceResult result;
        boolean reasoned, closed;
        int textOffset;

        /** @param tools finds tool calls in the content; null when the request has no tools to call */
        Choice(int index, SequenceState seq, RequestPlan plan, OutputSplitter splitter, ContentSteps logprobs, ToolCallStream tools) {
            this.index = index;
            this.seq = seq;
            this.plan = plan;
            this.splitter = splitter;
            this.logprobs = logprobs;
            this.tools = tools;
        }

        /** One token's text into reasoning and content, and the log-probabilities of content tokens whose text is out. */
        void token(RequestStream.Token t) {
            int before = content.length(), found = deltas.size();
            append(splitter.push(t.text()));
            logprobs.token(t);
            steps.addAll(logprobs.release(content.length() > before || deltas.size() > found));
        }

        /** The text released at the end; content tokens whose text never showed are dropped. */
        void finish(RequestStream.Finish f) {
            int before = content.length(), found = deltas.size();
            append(splitter.push(f.text()));
            append(splitter.flush());
            if (tools != null) answer(tools.finish());
            steps.addAll(logprobs.release(content.length() > before || deltas.size() > found));
            result = f.result();
        }

        private void append(OutputSplitter.Delta d) {
            reasoning.append(d.reasoning());
            if (tools == null) content.append(d.content());
            else if (!d.content().isEmpty()) answer(tools.push(d.content()));
            reasoned |= !d.reasoning().isEmpty();
        }

        private void answer(ToolCallStream.Out o) {
            content.append(o.content());
            calls.addAll(o.calls());
            deltas.addAll(o.deltas());
        }

        /** OpenAI's finish reason: "tool_calls" when the answer called tools, "length" when a call was cut short. */
        String finishReason() {
            if (calls.isEmpty() || (tools.truncated() && result.finishReason().equals("length"))) return result.finishReason();
            return "tool_calls";
        }

        boolean hasPending() {
            return !reasoning.isEmpty() || !content.isEmpty() || !steps.isEmpty() || !deltas.isEmpty();
        }

        /** After a streamed delta: what was sent is forgotten, its place in the text kept. */
        void sent() {
            textOffset += content.length();
            reasoning.setLength(0);
            content.setLength(0);
            steps.clear();
            deltas.clear();
        }
    }

    /** Waits for every choice's end and answers one JSON object, shaped by {@code shape}. */
    void whole(Context ctx, List<Choice> choices, RequestStream events, ClientConnection client, Answer a, AnswerShape shape)
            throws InterruptedException {
        int open = choices.size();
        while (true) {
            RequestStream.Event ev = events.poll(POLL_MS);
            // checked on every event too: a fast model never leaves the queue empty for long
            if (!client.isOpen()) {
                gone(ctx, choices);
                return;
            }
            if (ev == null) continue;
            Choice c = choices.get(ev.choice());
            switch (ev) {
                case RequestStream.Token t -> c.token(t);
                case RequestStream.Failed f -> {
                    ApiException e = CompletionHandler.map(f.error());
                    if (e == null) return;
                    throw e;
                }
                case RequestStream.Finish fin -> {
                    c.finish(fin);
                    if (--open == 0) {
                        ctx.status(200).contentType("application/json").result(shape.object(a, choices).toString()
                                .getBytes(StandardCharsets.UTF_8));
                        return;
                    }
                }
            }
        }
    }

    @Override
    public ObjectNode object(Answer a, List<Choice> choices) {
        return completionObject(a, choices);
    }

    private ObjectNode completionObject(Answer a, List<Choice> choices) {
        CompletionRequest r = a.r();
        ObjectNode o = ResponseJson.envelope(a.id(), r.chat() ? "chat.completion" : "text_completion", a.created(), modelId);
        ArrayNode arr = o.putArray("choices");
        for (Choice ch : choices) {
            ObjectNode c = arr.addObject();
            c.put("index", ch.index);
            if (r.chat()) {
                ObjectNode m = c.putObject("message");
                m.put("role", "assistant");
                // an answer that only calls tools has no content, as OpenAI's
                if (!ch.calls.isEmpty() && ch.content.toString().isBlank()) m.putNull("content");
                else m.put("content", ch.content.toString());
                ResponseJson.reasoning(m, ch.reasoning.toString());
                if (!ch.calls.isEmpty()) m.set("tool_calls", ResponseJson.toolCalls(ch.calls));
                if (r.topLogprobs() >= 0) c.set("logprobs", ResponseJson.chatLogprobs(ch.steps, tokenText));
                else c.putNull("logprobs");
            } else {
                c.put("text", (a.echo() == null ? "" : a.echo().text()) + ch.content);
                if (r.topLogprobs() >= 0) c.set("logprobs", withEcho(a, ResponseJson.completionLogprobs(ch.steps, tokenText, a.echoed(), r.skipSpecial())));
                else c.putNull("logprobs");
            }
            c.put("finish_reason", ch.finishReason());
            // a plan's fields (thinking) are the request's with one choice, as they always were; each choice's with more
            if (choices.size() > 1) ch.plan.decorate(c, ch.reasoned);
        }
        SequenceResult total = total(a, choices);
        o.set("usage", ResponseJson.usage(total));
        o.set("timings", ResponseJson.timings(total));
        if (choices.size() == 1) choices.getFirst().plan.decorate(o, choices.getFirst().reasoned);
        return o;
    }

    /**
     * What the request cost, as OpenAI counts it for n choices: the prompt once (it is computed once, see {@link
     * Scheduler#submitAll}; its cached tokens are the first choice's), completion tokens summed over the choices.
     * Timings follow: generated tokens summed over the generation's wall time (the longest choice's).
     */
    static SequenceResult total(Answer a, List<Choice> choices) {
        SequenceResult first = choices.getFirst().result;
        if (choices.size() == 1) return CompletionHandler.withEarlier(a.earlier(), first);
        int completion = 0, reasoning = 0, draftN = 0, draftAccepted = 0;
        double predictedMs = 0;
        for (Choice c : choices) {
            SequenceResult s = c.result;
            completion += s.completionTokens();
            reasoning += s.reasoningTokens();
            draftN += s.draftN();
            draftAccepted += s.draftAccepted();
            predictedMs = Math.max(predictedMs, s.predictedMs());
        }
        return new SequenceResult(first.finishReason(), first.text(), first.generatedIds(), first.promptTokens(), first.cachedTokens(),
                completion, reasoning, first.promptMs(), predictedMs, first.queueMs(), draftN, draftAccepted);
    }

    /**
     * Streams the answer as tokens arrive, in the parts {@code shape} gives; an error before the first token is still
     * a plain HTTP error.
     */
    void stream(Context ctx, List<Choice> choices, RequestStream events, ClientConnection client, Answer a, AnswerShape shape)
            throws IOException, InterruptedException {
        List<RequestStream.Event> batch = new ArrayList<>();
        RequestStream.Event first;
        while ((first = events.poll(POLL_MS)) == null) {
            if (!client.isOpen()) {
                gone(ctx, choices);
                return;
            }
        }
        if (first instanceof RequestStream.Failed f) {
            ApiException e = CompletionHandler.map(f.error());
            if (e == null) return;
            throw e;
        }
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        OutputStream out = ctx.res().getOutputStream();
        AnswerShape.Parts parts = shape.stream(a, choices);
        boolean finished = false;
        int open = choices.size();
        try {
            parts.begin(out);
            batch.add(first);
            while (true) {
                events.drainTo(batch);
                RuntimeException failed = null;
                for (RequestStream.Event ev : batch) {
                    Choice c = choices.get(ev.choice());
                    switch (ev) {
                        case RequestStream.Token t -> c.token(t);
                        case RequestStream.Finish fin -> c.finish(fin);
                        case RequestStream.Failed f -> failed = f.error();
                    }
                }
                batch.clear();
                for (Choice c : choices) {
                    if (c.hasPending()) {
                        parts.pending(out, c);
                        c.sent();
                    }
                    if (c.result != null && !c.closed) {
                        c.closed = true;
                        open--;
                        parts.finished(out, c);
                    }
                }
                if (failed != null) {
                    ApiException e = CompletionHandler.map(failed);
                    if (e != null) {
                        ctx.attribute(Http.STATUS, e.status);
                        parts.failed(out, e);
                    }
                    out.flush();
                    return;
                }
                if (open == 0) {
                    finished = true;
                    parts.end(out);
                    out.flush();
                    return;
                }
                out.flush();
                RequestStream.Event next;
                do {
                    next = events.poll(POLL_MS);
                    if (!client.isOpen()) {
                        gone(ctx, choices);
                        return;
                    }
                } while (next == null);
                batch.add(next);
            }
        } catch (IOException e) {
            // the client went away mid-stream; one that leaves while the last bytes are flushed got its answer
            if (!finished) gone(ctx, choices);
        }
    }

    @Override
    public AnswerShape.Parts stream(Answer a, List<Choice> choices) {
        return new Chunks(a, choices);
    }

    /** chat/completions chunks: each names its choice; the usage on request in a chunk of its own; then [DONE]. */
    private final class Chunks implements AnswerShape.Parts {
        private final Answer a;
        private final List<Choice> choices;

        Chunks(Answer a, List<Choice> choices) {
            this.a = a;
            this.choices = choices;
        }

        @Override
        public void begin(OutputStream out) throws IOException {
            if (!a.r().chat()) {
                // echo: the prompt comes first, with its log-probabilities when asked for
                if (a.echo() != null) for (Choice ch : choices) send(out, echoChunk(a, ch.index, null));
                return;
            }
            for (Choice ch : choices) {
                ObjectNode c = chunk(a);
                ObjectNode d = c.withArray("choices").addObject().put("index", ch.index).putObject("delta");
                d.put("role", "assistant").put("content", "");
                ((ObjectNode) c.get("choices").get(0)).putNull("logprobs").putNull("finish_reason");
                send(out, c);
            }
        }

        @Override
        public void pending(OutputStream out, Choice c) throws IOException {
            boolean text = !c.reasoning.isEmpty() || !c.content.isEmpty();
            if (text || c.deltas.isEmpty()) send(out, deltaChunk(a, c, null));
            // calls as OpenAI streams them: id and name first, then the arguments piece by piece
            for (int k = 0; k < c.deltas.size(); k++) {
                send(out, toolChunk(a, c, ResponseJson.toolCallDelta(c.deltas.get(k)), k == 0 && !text ? c.steps : List.of()));
            }
        }

        @Override
        public void finished(OutputStream out, Choice c) throws IOException {
            ObjectNode last = deltaChunk(a, c, c.finishReason());
            // timings (counts included) always ride on a choice's finishing chunk
            last.set("timings", ResponseJson.timings(c.result));
            c.plan.decorate(last, c.reasoned);
            send(out, last);
        }

        @Override
        public void failed(OutputStream out, ApiException e) throws IOException {
            send(out, ResponseJson.error(e));
        }

        @Override
        public void end(OutputStream out) throws IOException {
            // usage only on request, once, in a chunk of its own: the official SDK's accumulator takes a chunk with
            // usage for the last one
            if (a.r().includeUsage()) {
                ObjectNode u = chunk(a);
                u.putArray("choices");
                u.set("usage", ResponseJson.usage(total(a, choices)));
                send(out, u);
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The echoed prompt's log-probability entries (when asked for) before the generated ones. */
    private ObjectNode withEcho(Answer a, ObjectNode generated) {
        if (a.echo() == null || a.echo().steps() == null) return generated;
        ObjectNode lp = ResponseJson.promptLogprobs(a.echo().ids(), a.echo().steps(), tokenText, a.r().skipSpecial());
        ResponseJson.append(lp, generated);
        return lp;
    }

    /** A text completion chunk (or choice) holding the echoed prompt; with {@code finish}, the choice ends there. */
    private ObjectNode echoChunk(Answer a, int index, String finish) {
        ObjectNode o = chunk(a);
        ObjectNode ch = o.putArray("choices").addObject().put("index", index).put("text", a.echo().text());
        if (a.echo().steps() != null) ch.set("logprobs", ResponseJson.promptLogprobs(a.echo().ids(), a.echo().steps(), tokenText, a.r().skipSpecial()));
        else ch.putNull("logprobs");
        if (finish != null) ch.put("finish_reason", finish); else ch.putNull("finish_reason");
        return o;
    }

    /**
     * max_tokens 0 with echo: the prompt (and its log-probabilities) is the whole answer, with nothing generated; no
     * sequence runs, every one of the n choices is the same.
     */
    void echoOnly(Context ctx, Answer a) throws IOException {
        CompletionRequest r = a.r();
        SequenceResult usage = new SequenceResult("length", "", new int[0], a.echo().ids().length, 0, 0, 0, 0, 0, 0, 0, 0);
        if (!r.stream()) {
            ObjectNode o = ResponseJson.envelope(a.id(), "text_completion", a.created(), modelId);
            ArrayNode arr = o.putArray("choices");
            for (int i = 0; i < r.n(); i++) arr.add(echoChunk(a, i, "length").get("choices").get(0));
            o.set("usage", ResponseJson.usage(usage));
            ctx.status(200).contentType("application/json").result(o.toString().getBytes(StandardCharsets.UTF_8));
            return;
        }
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        OutputStream out = ctx.res().getOutputStream();
        for (int i = 0; i < r.n(); i++) send(out, echoChunk(a, i, "length"));
        if (r.includeUsage()) {
            ObjectNode u = chunk(a);
            u.putArray("choices");
            u.set("usage", ResponseJson.usage(usage));
            send(out, u);
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** The client left: stop every choice; the request is counted as 499 (client closed request). */
    private void gone(Context ctx, List<Choice> choices) {
        for (Choice c : choices) scheduler.cancel(c.seq);
        ctx.attribute(Http.STATUS, 499);
    }

    private ObjectNode chunk(Answer a) {
        return ResponseJson.envelope(a.id(), a.r().chat() ? "chat.completion.chunk" : "text_completion", a.created(), modelId);
    }

    /** The choice's pending text and log-probabilities as a chunk; with {@code finish}, its finishing chunk (empty). */
    private ObjectNode deltaChunk(Answer a, Choice c, String finish) {
        CompletionRequest r = a.r();
        String reasoning = finish == null ? c.reasoning.toString() : "", content = finish == null ? c.content.toString() : "";
        List<Step> steps = finish == null ? c.steps : List.of();
        ObjectNode o = chunk(a);
        ObjectNode ch = o.putArray("choices").addObject();
        ch.put("index", c.index);
        if (r.chat()) {
            ch.set("delta", ResponseJson.chatDelta(reasoning, content, finish != null));
            if (!steps.isEmpty()) ch.set("logprobs", ResponseJson.chatLogprobs(steps, tokenText));
            else ch.putNull("logprobs");
        } else {
            ch.put("text", content);
            if (!steps.isEmpty()) ch.set("logprobs", ResponseJson.completionLogprobs(steps, tokenText, a.echoed() + c.textOffset, r.skipSpecial()));
            else ch.putNull("logprobs");
        }
        if (finish != null) ch.put("finish_reason", finish); else ch.putNull("finish_reason");
        return o;
    }

    /** A chunk whose delta is one tool call's part; the log-probabilities of the call's tokens ride on its first. */
    private ObjectNode toolChunk(Answer a, Choice c, ObjectNode call, List<Step> steps) {
        ObjectNode o = chunk(a);
        ObjectNode ch = o.putArray("choices").addObject();
        ch.put("index", c.index);
        ch.putObject("delta").putArray("tool_calls").add(call);
        if (!steps.isEmpty()) ch.set("logprobs", ResponseJson.chatLogprobs(steps, tokenText));
        else ch.putNull("logprobs");
        ch.putNull("finish_reason");
        return o;
    }

    private static void send(OutputStream out, ObjectNode o) throws IOException {
        out.write(("data: " + o.toString() + "\n\n").getBytes(StandardCharsets.UTF_8));
    }
}
