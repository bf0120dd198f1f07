package moge.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import moge.MogeException;
import moge.ServiceUnavailable;
import moge.generate.Step;
import moge.server.sched.GenerationParams;
import moge.server.sched.GenerationPolicy;
import moge.server.sched.Scheduler;
import moge.server.sched.SchedulerException;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;
import moge.tokenizer.TextMode;
import moge.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.UnaryOperator;

/**
 * Runs one chat or text completion: builds the prompt, submits it to the scheduler and answers either one
 * JSON object or a server-sent event stream of chunks ending in {@code data: [DONE]}.
 */
public final class CompletionHandler {
    private static final long POLL_MS = 50;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CompletionHandler.class);

    private final Scheduler scheduler;
    private final Tokenizer tokenizer;
    private final moge.chat.ChatTemplate template;
    private final String modelId;
    private final int context;
    private final int[] eosIds;
    private final Duration timeout;
    private final RequestHooks hooks;
    private final TokenText tokenText;
    private final ResponseFormat formats;
    private final java.util.Set<ClientConnection> connections = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public CompletionHandler(Scheduler scheduler, Tokenizer tokenizer, moge.chat.ChatTemplate template, String modelId, int context,
                             Duration timeout, RequestHooks hooks) {
        this.scheduler = scheduler;
        this.tokenizer = tokenizer;
        this.template = template;
        this.modelId = modelId;
        this.context = context;
        this.eosIds = tokenizer.eosIds();
        this.timeout = timeout;
        this.hooks = hooks == null ? RequestHooks.NONE : hooks;
        this.tokenText = new TokenText(tokenizer);
        this.formats = new ResponseFormat(tokenizer, scheduler.vocab());
    }

    public String modelId() {
        return modelId;
    }

    /**
     * Waits until every completion connection has closed, i.e. its response was written to the end (they
     * all carry Connection: close), or until the deadline. Shutdown calls this before stopping Jetty.
     */
    public void awaitResponsesWritten(long deadlineNanos) throws InterruptedException {
        while (System.nanoTime() < deadlineNanos) {
            connections.removeIf(c -> !c.isOpen());
            if (connections.isEmpty()) return;
            Thread.sleep(5);
        }
    }

    public void handle(Context ctx, CompletionRequest r) throws IOException, InterruptedException {
        if (r.model() != null && !r.model().isEmpty() && !r.model().equals(modelId)) throw ApiException.modelNotFound(r.model());
        RequestPlan plan = r.chat() ? hooks.plan(r) : RequestPlan.PLAIN;
        String promptParam = r.chat() ? "messages" : "prompt";
        String id = (r.chat() ? "chatcmpl-" : "cmpl-") + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        long created = System.currentTimeMillis() / 1000;
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            r.sampler().validate(UnaryOperator.identity(), scheduler.vocab());
        } catch (MogeException e) {
            // the parser has range-checked every field; what can fail only here is the bias against the vocabulary
            throw ApiException.invalid("logit_bias", e.getMessage());
        }
        moge.constrain.TokenMask format = formats.mask(r.body());
        ClientConnection client = null;
        // what earlier, rejected attempts cost (their tokens count in the usage of the answer)
        SequenceResult earlier = null;
        for (int attempt = 0; ; attempt++) {
            Prompt prompt = prompt(r, plan, attempt);
            int[] ids = prompt.ids();
            if (ids.length == 0) throw ApiException.invalid(promptParam, "the prompt is empty after tokenization");
            if (ids.length >= context) {
                throw ApiException.contextExceeded(promptParam, "The prompt is " + ids.length + " tokens long but the context is "
                        + context + " tokens (leave room for at least one generated token)");
            }
            int maxTokens = r.maxTokens() != null ? r.maxTokens() : context - ids.length;
            if ((long) ids.length + maxTokens > context) {
                throw ApiException.contextExceeded(r.chat() && r.body().has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
                        "The context is " + context + " tokens; the prompt takes " + ids.length + ", so at most "
                                + (context - ids.length) + " tokens can be generated, but " + maxTokens + " were requested");
            }
            for (int t : ids) {
                if (t >= tokenizer.vocabSize() && !r.chat()) throw ApiException.invalid("prompt", "token id " + t + " is outside the vocabulary");
            }
            int top = r.topLogprobs() >= 0 ? r.topLogprobs() : plan.needsLogprobs(attempt) ? 0 : -1;
            TextMode mode = r.chat() ? TextMode.CHAT : r.skipSpecial() ? TextMode.CONTINUATION : TextMode.CONTINUATION_WITH_SPECIAL;
            GenerationParams gp = new GenerationParams(maxTokens, r.sampler(), eosIds, r.stop(), r.ignoreEos(), top, deadline,
                    r.speculative(), mode, format == null ? null : formats.constraint(format, r.chat()));
            GenerationPolicy policy = plan.policy(attempt, ids, prompt.text());
            OutputSplitter splitter = r.chat() ? plan.splitter(attempt, ids, prompt.text()) : OutputSplitter.plain();

            RequestStream events = new RequestStream();
            SequenceState s;
            try {
                s = scheduler.submit(ids, gp, policy, events);
            } catch (SchedulerException.QueueFull e) {
                throw ApiException.queueFull(e.getMessage());
            } catch (SchedulerException.Unavailable e) {
                throw ApiException.unavailable(e.getMessage());
            } catch (MogeException e) {
                throw ApiException.invalid(promptParam, e.getMessage());
            }
            if (client == null) {
                client = ClientConnection.watch(ctx, timeout.plusSeconds(30));
                connections.removeIf(c -> !c.isOpen());
                connections.add(client);
            }
            try {
                if (plan.holdBack(attempt)) {
                    Held held = collect(ctx, s, events, client);
                    if (held == null) return;
                    if (!plan.accept(attempt, held.result(), held.steps())) {
                        earlier = withEarlier(earlier, held.result());
                        continue;
                    }
                    events = RequestStream.replay(held.events());
                }
                Answer answer = new Answer(r, plan, earlier, id, created);
                boolean wanted = r.topLogprobs() >= 0;
                ContentSteps logprobs = r.chat() ? ContentSteps.chat(plan.contentTokens(attempt, prompt.text()), eosIds, r.ignoreEos(), wanted)
                        : ContentSteps.all(wanted);
                if (r.stream()) stream(ctx, s, events, client, splitter, logprobs, answer);
                else whole(ctx, s, events, client, splitter, logprobs, answer);
                return;
            } finally {
                // whatever happened here (client gone, write failed, interrupted), the sequence must not run on
                if (!s.isFinished()) scheduler.cancel(s);
            }
        }
    }

    /** The rendered prompt text (null for raw completions) and its ids. */
    private record Prompt(String text, int[] ids) {
    }

    /** What every response of one request shares. */
    private record Answer(CompletionRequest r, RequestPlan plan, SequenceResult earlier, String id, long created) {
        SequenceResult total(SequenceResult last) {
            return withEarlier(earlier, last);
        }
    }

    /** A held-back attempt, complete. */
    private record Held(List<RequestStream.Event> events, SequenceResult result, List<Step> steps) {
    }

    private Prompt prompt(CompletionRequest r, RequestPlan plan, int attempt) {
        if (!r.chat()) return new Prompt(r.promptText(), r.promptIds() != null ? r.promptIds() : tokenizer.encodePrompt(r.promptText()));
        Map<String, Object> vars = plan.templateVariables(attempt, r.templateKwargs());
        String text;
        try {
            text = template.render(plan.messages(attempt, r.messages()), true, vars);
        } catch (MogeException e) {
            throw ApiException.invalid("messages", e.getMessage());
        }
        return new Prompt(text, tokenizer.encodePrompt(text));
    }

    /** Runs a held-back attempt to its end; null when the client left or the sequence was cancelled. */
    private Held collect(Context ctx, SequenceState s, RequestStream events, ClientConnection client) throws InterruptedException {
        List<RequestStream.Event> all = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        while (true) {
            RequestStream.Event ev = events.poll(POLL_MS);
            if (!client.isOpen()) {
                gone(ctx, s);
                return null;
            }
            if (ev == null) continue;
            all.add(ev);
            switch (ev) {
                case RequestStream.Token t -> {
                    if (t.step() != null) steps.add(t.step());
                }
                case RequestStream.Failed f -> {
                    ApiException e = map(f.error());
                    if (e == null) return null;
                    throw e;
                }
                case RequestStream.Finish fin -> {
                    return new Held(all, fin.result(), steps);
                }
            }
        }
    }

    /** The last attempt's result with the tokens of earlier attempts added to its counts. */
    static SequenceResult withEarlier(SequenceResult earlier, SequenceResult last) {
        if (earlier == null) return last;
        return new SequenceResult(last.finishReason(), last.text(), last.generatedIds(), last.promptTokens(), last.cachedTokens(),
                last.completionTokens() + earlier.completionTokens(), last.reasoningTokens() + earlier.reasoningTokens(),
                last.promptMs(), last.predictedMs(), last.queueMs(), last.draftN() + earlier.draftN(),
                last.draftAccepted() + earlier.draftAccepted());
    }

    /** Waits for the end and answers one JSON object. */
    private void whole(Context ctx, SequenceState s, RequestStream events, ClientConnection client, OutputSplitter splitter,
                       ContentSteps logprobs, Answer a) throws InterruptedException {
        CompletionRequest r = a.r();
        StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
        List<Step> steps = new ArrayList<>();
        while (true) {
            RequestStream.Event ev = events.poll(POLL_MS);
            // checked on every event too: a fast model never leaves the queue empty for long
            if (!client.isOpen()) {
                gone(ctx, s);
                return;
            }
            if (ev == null) continue;
            switch (ev) {
                case RequestStream.Token t -> token(t, splitter, logprobs, reasoning, content, steps);
                case RequestStream.Failed f -> {
                    ApiException e = map(f.error());
                    if (e == null) return;
                    throw e;
                }
                case RequestStream.Finish fin -> {
                    finish(fin.text(), splitter, logprobs, reasoning, content, steps);
                    ObjectNode o = completionObject(r, a.total(fin.result()), reasoning.toString(), content.toString(), steps, a.id(),
                            a.created());
                    a.plan().decorate(o, !reasoning.isEmpty());
                    ctx.status(200).contentType("application/json").result(json(o));
                    return;
                }
            }
        }
    }

    private ObjectNode completionObject(CompletionRequest r, SequenceResult res, String reasoning, String content, List<Step> steps,
                                        String id, long created) {
        ObjectNode o = ResponseJson.envelope(id, r.chat() ? "chat.completion" : "text_completion", created, modelId);
        ObjectNode c = o.putArray("choices").addObject();
        c.put("index", 0);
        if (r.chat()) {
            ObjectNode m = c.putObject("message");
            m.put("role", "assistant");
            m.put("content", content);
            ResponseJson.reasoning(m, reasoning);
            if (r.topLogprobs() >= 0) c.set("logprobs", ResponseJson.chatLogprobs(steps, tokenText));
            else c.putNull("logprobs");
        } else {
            c.put("text", content);
            if (r.topLogprobs() >= 0) c.set("logprobs", ResponseJson.completionLogprobs(steps, tokenText, 0, r.skipSpecial()));
            else c.putNull("logprobs");
        }
        c.put("finish_reason", res.finishReason());
        o.set("usage", ResponseJson.usage(res));
        o.set("timings", ResponseJson.timings(res));
        return o;
    }

    /** Streams chunks as tokens arrive; an error before the first token is still a plain HTTP error. */
    private void stream(Context ctx, SequenceState s, RequestStream events, ClientConnection client, OutputSplitter splitter,
                        ContentSteps logprobs, Answer a) throws IOException, InterruptedException {
        CompletionRequest r = a.r();
        String id = a.id();
        long created = a.created();
        boolean reasoned = false;
        List<RequestStream.Event> batch = new ArrayList<>();
        RequestStream.Event first;
        while ((first = events.poll(POLL_MS)) == null) {
            if (!client.isOpen()) {
                gone(ctx, s);
                return;
            }
        }
        if (first instanceof RequestStream.Failed f) {
            ApiException e = map(f.error());
            if (e == null) return;
            throw e;
        }
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        OutputStream out = ctx.res().getOutputStream();
        int textOffset = 0;
        boolean finished = false;
        try {
            if (r.chat()) {
                ObjectNode c = chunk(r, id, created);
                ObjectNode d = c.withArray("choices").addObject().put("index", 0).putObject("delta");
                d.put("role", "assistant").put("content", "");
                ((ObjectNode) c.get("choices").get(0)).putNull("logprobs").putNull("finish_reason");
                send(out, c);
            }
            batch.add(first);
            while (true) {
                events.drainTo(batch);
                StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
                List<Step> steps = new ArrayList<>();
                SequenceResult done = null;
                RuntimeException failed = null;
                for (RequestStream.Event ev : batch) {
                    switch (ev) {
                        case RequestStream.Token t -> token(t, splitter, logprobs, reasoning, content, steps);
                        case RequestStream.Finish fin -> {
                            finish(fin.text(), splitter, logprobs, reasoning, content, steps);
                            done = fin.result();
                        }
                        case RequestStream.Failed f -> failed = f.error();
                    }
                }
                batch.clear();
                reasoned |= !reasoning.isEmpty();
                if (!reasoning.isEmpty() || !content.isEmpty() || !steps.isEmpty()) {
                    send(out, deltaChunk(r, id, created, reasoning.toString(), content.toString(), steps, textOffset, null));
                    textOffset += content.length();
                }
                if (failed != null) {
                    ApiException e = map(failed);
                    if (e != null) {
                        ctx.attribute(Http.STATUS, e.status);
                        send(out, ResponseJson.error(e));
                    }
                    out.flush();
                    return;
                }
                if (done != null) {
                    finished = true;
                    ObjectNode last = deltaChunk(r, id, created, "", "", List.of(), textOffset, done.finishReason());
                    // usage only on request, in a chunk of its own: the official SDK's accumulator takes a chunk
                    // with usage for the last one; timings (counts included) always ride on the finishing chunk
                    last.set("timings", ResponseJson.timings(done));
                    a.plan().decorate(last, reasoned);
                    send(out, last);
                    if (r.includeUsage()) {
                        ObjectNode u = chunk(r, id, created);
                        u.putArray("choices");
                        u.set("usage", ResponseJson.usage(a.total(done)));
                        send(out, u);
                    }
                    out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    return;
                }
                out.flush();
                RequestStream.Event next;
                do {
                    next = events.poll(POLL_MS);
                    if (!client.isOpen()) {
                        gone(ctx, s);
                        return;
                    }
                } while (next == null);
                batch.add(next);
            }
        } catch (IOException e) {
            // the client went away mid-stream; one that leaves while the last bytes are flushed got its answer
            if (!finished) gone(ctx, s);
        }
    }

    /** The client left: stop the sequence; the request is counted as 499 (client closed request). */
    private void gone(Context ctx, SequenceState s) {
        scheduler.cancel(s);
        ctx.attribute(Http.STATUS, 499);
    }

    private ObjectNode chunk(CompletionRequest r, String id, long created) {
        return ResponseJson.envelope(id, r.chat() ? "chat.completion.chunk" : "text_completion", created, modelId);
    }

    private ObjectNode deltaChunk(CompletionRequest r, String id, long created, String reasoning, String content, List<Step> steps,
                                  int textOffset, String finish) {
        ObjectNode c = chunk(r, id, created);
        ArrayNode choices = c.putArray("choices");
        ObjectNode ch = choices.addObject();
        ch.put("index", 0);
        if (r.chat()) {
            ch.set("delta", ResponseJson.chatDelta(reasoning, content, finish != null));
            if (!steps.isEmpty()) ch.set("logprobs", ResponseJson.chatLogprobs(steps, tokenText));
            else ch.putNull("logprobs");
        } else {
            ch.put("text", content);
            if (!steps.isEmpty()) ch.set("logprobs", ResponseJson.completionLogprobs(steps, tokenText, textOffset, r.skipSpecial()));
            else ch.putNull("logprobs");
        }
        if (finish != null) ch.put("finish_reason", finish); else ch.putNull("finish_reason");
        return c;
    }

    private static void send(OutputStream out, ObjectNode o) throws IOException {
        out.write(("data: " + o.toString() + "\n\n").getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] json(ObjectNode o) {
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** One token's text into reasoning and content, and the log-probabilities of content tokens whose text is out. */
    private static void token(RequestStream.Token t, OutputSplitter splitter, ContentSteps logprobs, StringBuilder reasoning,
                              StringBuilder content, List<Step> steps) {
        int before = content.length();
        append(splitter.push(t.text()), reasoning, content);
        logprobs.token(t);
        steps.addAll(logprobs.release(content.length() > before));
    }

    /** The text released at the end; content tokens whose text never showed are dropped. */
    private static void finish(String text, OutputSplitter splitter, ContentSteps logprobs, StringBuilder reasoning,
                               StringBuilder content, List<Step> steps) {
        int before = content.length();
        append(splitter.push(text), reasoning, content);
        append(splitter.flush(), reasoning, content);
        steps.addAll(logprobs.release(content.length() > before));
    }

    private static void append(OutputSplitter.Delta d, StringBuilder reasoning, StringBuilder content) {
        reasoning.append(d.reasoning());
        content.append(d.content());
    }

    /** A scheduler-side failure as an API error; null for a cancellation (nobody is listening). */
    static ApiException map(RuntimeException e) {
        if (e instanceof ApiException a) return a;
        if (e instanceof SchedulerException.Cancelled) return null;
        if (e instanceof SchedulerException.QueueFull) return ApiException.queueFull(e.getMessage());
        if (e instanceof ServiceUnavailable || e instanceof moge.moe.DeviceUnavailableException) return ApiException.unavailable(e.getMessage());
        LOG.error("generation failed", e);
        if (e instanceof MogeException) return ApiException.internal(e.getMessage());
        return ApiException.internal("internal error while generating");
    }
}
