package moge.server.api;

import io.javalin.http.Context;
import moge.MogeException;
import moge.ServiceUnavailable;
import moge.generate.Step;
import moge.server.sched.GenerationParams;
import moge.server.sched.GenerationPolicy;
import moge.server.sched.Scheduler;
import moge.server.sched.SchedulerException;
import moge.sample.SamplerParams;
import moge.server.sched.SequenceListener;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;
import moge.tokenizer.TextMode;
import moge.tokenizer.Tokenizer;

import java.io.IOException;
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
    private volatile SideModel side;
    private final CompletionWriter writer;
    private final ResponseFormat formats;
    private final ToolPrompt tools;
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
        this.writer = new CompletionWriter(scheduler, tokenText, modelId);
        this.formats = new ResponseFormat(tokenizer, scheduler.vocab());
        this.tools = new ToolPrompt(tokenizer);
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
        handle(ctx, r, writer);
    }

    /**
     * POST /v1/responses: the request read as the chat completion it asks for, answered in the Responses API's shape;
     * errors name the Responses fields.
     */
    public void responses(Context ctx, com.fasterxml.jackson.databind.node.ObjectNode body) throws IOException, InterruptedException {
        ResponsesRequest q = ResponsesRequest.parse(body);
        try {
            handle(ctx, RequestParser.chat(q.chat()), new ResponsesWriter(tokenText, modelId, q));
        } catch (ApiException e) {
            throw q.rename(e);
        }
    }

    /** Where echo's prompt log-probabilities are computed, outside the scheduler (set once the server is ready). */
    public void useSideModel(SideModel side) {
        this.side = side;
    }

    /**
     * What a completion with echo repeats: the prompt as given (the ids' text when given as ids), and with logprobs
     * the prompt tokens' own log-probabilities, computed on the side model.
     */
    private CompletionWriter.Echo echo(CompletionRequest r, int[] ids) {
        String text = r.promptText() != null ? r.promptText() : tokenText.joined(ids, r.skipSpecial());
        if (r.topLogprobs() < 0) return new CompletionWriter.Echo(text, ids, null);
        if (side == null) throw ApiException.unavailable("prompt log-probabilities need the side model, which this server has not set up");
        List<Step> steps = side.call("prompt", (m, cache) -> moge.generate.LogProbs.prompt(m, cache, ids, r.topLogprobs()));
        return new CompletionWriter.Echo(text, ids, steps);
    }

    /** POST /v1/messages (Anthropic's Messages API): read as a chat completion, answered in that API's shape. */
    public void messages(Context ctx, com.fasterxml.jackson.databind.node.ObjectNode body) throws IOException, InterruptedException {
        MessagesRequest q = MessagesRequest.parse(body, false);
        try {
            handle(ctx, RequestParser.chat(q.chat()), new MessagesWriter(modelId));
        } catch (ApiException e) {
            throw q.rename(e);
        }
    }

    /** POST /v1/messages/count_tokens: the prompt tokens a /v1/messages request with this body would run. */
    public com.fasterxml.jackson.databind.node.ObjectNode countMessageTokens(com.fasterxml.jackson.databind.node.ObjectNode body) {
        MessagesRequest q = MessagesRequest.parse(body, true);
        try {
            int n = tokenizer.encodePrompt(chatPromptText(q.chat(), true)).length;
            return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("input_tokens", n);
        } catch (ApiException e) {
            throw q.rename(e);
        }
    }

    private void handle(Context ctx, CompletionRequest r, AnswerShape output) throws IOException, InterruptedException {
        if (r.model() != null && !r.model().isEmpty() && !r.model().equals(modelId)) throw ApiException.modelNotFound(r.model());
        ToolSpec toolSpec = r.chat() ? ToolSpec.parse(r.body()) : ToolSpec.NONE;
        int n = r.n(), parallel = scheduler.config().parallel();
        // more choices than slots would run one after another, and one request could hold every slot for long
        if (n > parallel) {
            throw ApiException.invalid("n", "'n' must be at most " + parallel + " on this server (--parallel " + parallel
                    + "): each choice is a sequence of its own; got " + n);
        }
        List<RequestPlan> plans = new ArrayList<>(n);
        for (int i = 0; i < n; i++) plans.add(r.chat() ? hooks.plan(r) : RequestPlan.PLAIN);
        RequestPlan plan = plans.getFirst();
        if (n > 1 && plan.holdBack(0)) {
            throw ApiException.invalid("n", "'n' greater than 1 is not supported with thinking mode cascade (each choice would "
                    + "need its own held-back attempt); use another thinking mode or n = 1");
        }
        String promptParam = r.chat() ? "messages" : "prompt";
        String id = (r.chat() ? "chatcmpl-" : "cmpl-") + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        long created = System.currentTimeMillis() / 1000;
        long deadline = System.nanoTime() + timeout.toNanos();
        SamplerParams sampler = r.sampler();
        if (!r.textBias().isEmpty()) {
            sampler = sampler.withLogitBias(RequestParser.resolve(new RequestParser.LogitBias(sampler.logitBias(), r.textBias()),
                    tokenizer::encode));
        }
        try {
            sampler.validate(UnaryOperator.identity(), scheduler.vocab());
        } catch (MogeException e) {
            // the parser has range-checked every field; what can fail only here is the bias against the vocabulary
            throw ApiException.invalid("logit_bias", e.getMessage());
        }
        moge.constrain.TokenMask format = toolSpec.forced() ? formats.calls(toolSpec) : formats.mask(r.body());
        // "auto" tools without another format: free text, but a call the model starts is enforced
        moge.constrain.OutputConstraint constraint = format != null ? formats.constraint(format, r.chat())
                : toolSpec.active() ? formats.autoCalls(toolSpec, tools) : null;
        ClientConnection client = null;
        // what earlier, rejected attempts cost (their tokens count in the usage of the answer)
        SequenceResult earlier = null;
        for (int attempt = 0; ; attempt++) {
            // the prompt depends on the plan's mode only, the same for every choice (a cascade, which changes it, has one)
            Prompt prompt = prompt(r, toolSpec, plan, attempt);
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
            for (int t : r.stopTokenIds()) {
                if (t >= scheduler.vocab()) throw ApiException.invalid("stop_token_ids", "token id " + t + " is outside the vocabulary of " + scheduler.vocab());
            }
            if (r.minTokens() > maxTokens) {
                throw ApiException.invalid("min_tokens", "'min_tokens' (" + r.minTokens() + ") must not exceed the " + maxTokens + " tokens that can be generated");
            }
            CompletionWriter.Echo echo = r.echo() ? echo(r, ids) : null;
            if (echo != null && maxTokens == 0) {
                writer.echoOnly(ctx, new CompletionWriter.Answer(r, null, id, created, echo));
                return;
            }
            int top = r.topLogprobs() >= 0 ? r.topLogprobs() : plan.needsLogprobs(attempt) ? 0 : -1;
            TextMode mode = r.chat() ? TextMode.CHAT : r.skipSpecial() ? TextMode.CONTINUATION : TextMode.CONTINUATION_WITH_SPECIAL;
            RequestStream events = new RequestStream();
            List<GenerationParams> params = new ArrayList<>(n);
            List<GenerationPolicy> policies = new ArrayList<>(n);
            List<SequenceListener> listeners = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                params.add(new GenerationParams(maxTokens, choiceSampler(sampler, i, n), eosIds, r.stop(), r.ignoreEos(), top, deadline,
                        r.speculative(), mode, constraint, r.minTokens(), r.stopTokenIds()));
                policies.add(plans.get(i).policy(attempt, ids, prompt.text()));
                listeners.add(events.listener(i));
            }
            List<SequenceState> seqs;
            try {
                seqs = scheduler.submitAll(ids, params, policies, listeners);
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
                if (plan.holdBack(attempt)) { // n = 1 (see above)
                    Held held = collect(ctx, seqs.getFirst(), events, client);
                    if (held == null) return;
                    if (!plan.accept(attempt, held.result(), held.steps())) {
                        earlier = withEarlier(earlier, held.result());
                        continue;
                    }
                    events = RequestStream.replay(held.events());
                }
                List<CompletionWriter.Choice> choices = new ArrayList<>(n);
                boolean wanted = r.topLogprobs() >= 0;
                for (int i = 0; i < n; i++) {
                    RequestPlan p = plans.get(i);
                    ContentSteps logprobs = r.chat() ? ContentSteps.chat(p.contentTokens(attempt, prompt.text()), eosIds, r.ignoreEos(), wanted)
                            : ContentSteps.all(wanted);
                    OutputSplitter splitter = r.chat() ? p.splitter(attempt, ids, prompt.text()) : OutputSplitter.plain();
                    ToolCallStream calls = toolSpec.active()
                            ? tools.stream(toolSpec, toolSpec.forced() || (constraint != null && constraint.lazy())) : null;
                    choices.add(new CompletionWriter.Choice(i, seqs.get(i), p, splitter, logprobs, calls));
                }
                CompletionWriter.Answer answer = new CompletionWriter.Answer(r, earlier, id, created, echo);
                if (r.stream()) writer.stream(ctx, choices, events, client, answer, output);
                else writer.whole(ctx, choices, events, client, answer, output);
                return;
            } finally {
                // whatever happened here (client gone, write failed, interrupted), no choice may run on
                for (SequenceState s : seqs) if (!s.isFinished()) scheduler.cancel(s);
            }
        }
    }

    /**
     * Choice i's sampler. With a seed S, choice i samples with seed S + i (wrapped to stay non-negative): reproducible,
     * different for each choice, and choice 0 is what the request gives with n = 1. Without a seed each choice draws
     * its own (two samplers seeded from the clock at once could get the same).
     */
    static SamplerParams choiceSampler(SamplerParams sp, int i, int n) {
        if (n == 1) return sp;
        long seed = sp.seed() >= 0 ? sp.seed() + i : ThreadLocalRandom.current().nextLong();
        return sp.withSeed(seed & Long.MAX_VALUE);
    }

    /** The rendered prompt text (null for raw completions) and its ids. */
    private record Prompt(String text, int[] ids) {
    }

    /** A held-back attempt, complete. */
    private record Held(List<RequestStream.Event> events, SequenceResult result, List<Step> steps) {
    }

    private Prompt prompt(CompletionRequest r, ToolSpec toolSpec, RequestPlan plan, int attempt) {
        if (!r.chat()) return new Prompt(r.promptText(), r.promptIds() != null ? r.promptIds() : tokenizer.encodePrompt(r.promptText()));
        String text = render(r, toolSpec, plan, attempt, true);
        return new Prompt(text, tokenizer.encodePrompt(text));
    }

    private String render(CompletionRequest r, ToolSpec toolSpec, RequestPlan plan, int attempt, boolean addGenerationPrompt) {
        Map<String, Object> vars = tools.variables(plan.templateVariables(attempt, r.templateKwargs()), toolSpec, template);
        try {
            return template.render(plan.messages(attempt, tools.messages(r.messages(), toolSpec, template)), addGenerationPrompt, vars);
        } catch (MogeException e) {
            throw ApiException.invalid("messages", e.getMessage());
        }
    }

    /**
     * The prompt text a chat request of this body runs (its first attempt: the thinking mode's switch and template
     * variables included), for /tokenize; {@code addGenerationPrompt} false leaves out the opening of the reply.
     */
    public String chatPromptText(com.fasterxml.jackson.databind.node.ObjectNode body, boolean addGenerationPrompt) {
        CompletionRequest r = RequestParser.chat(body);
        return render(r, ToolSpec.parse(body), hooks.plan(r), 0, addGenerationPrompt);
    }

    /** Runs a held-back attempt to its end; null when the client left or the sequence was cancelled. */
    private Held collect(Context ctx, SequenceState s, RequestStream events, ClientConnection client) throws InterruptedException {
        List<RequestStream.Event> all = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        while (true) {
            RequestStream.Event ev = events.poll(POLL_MS);
            if (!client.isOpen()) {
                // the client left: stop the sequence; the request is counted as 499 (client closed request)
                scheduler.cancel(s);
                ctx.attribute(Http.STATUS, 499);
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
