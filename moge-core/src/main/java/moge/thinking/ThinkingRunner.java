package moge.thinking;

import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.Step;
import moge.generate.TokenListener;
import moge.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Answers a conversation in a thinking mode on one {@link Generator}: renders the turn for the model's protocol,
 * enforces the thinking budget inside the decode loop, splits reasoning from answer while streaming, and runs the
 * cascade policy (fast first; slow again only when the fast answer's log-probabilities are doubtful).
 */
public final class ThinkingRunner {
    private final Generator generator;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final ThinkProtocol protocol;

    public ThinkingRunner(Generator generator, Tokenizer tokenizer, ChatTemplate template) {
        this.generator = generator;
        this.tokenizer = tokenizer;
        this.template = template;
        this.protocol = ThinkProtocol.of(tokenizer);
    }

    public ThinkProtocol protocol() {
        return protocol;
    }

    public ThinkingResult chat(List<ChatMessage> messages, ThinkingOptions t, GenerateOptions o, ThinkingListener listener) {
        return chat(messages, t, o, Map.of(), listener);
    }

    /** @param templateKwargs extra chat-template variables from the caller; they override the mode's own */
    public ThinkingResult chat(List<ChatMessage> messages, ThinkingOptions t, GenerateOptions o, Map<String, ?> templateKwargs,
                               ThinkingListener listener) {
        t = ThinkPrompt.withTypedMode(t, messages, protocol);
        ThinkingMode mode = t.mode();
        if (t.budget() == 0 && mode != ThinkingMode.FAST) {
            Attempt a = attempt(ThinkingMode.FAST, messages, t, o, templateKwargs, listener);
            return result(t, "fast", "thinking budget 0: answered without thinking", null, List.of(a));
        }
        return switch (mode) {
            case SLOW, FAST -> {
                Attempt a = attempt(mode, messages, t, o, templateKwargs, listener);
                yield result(t, mode.label(), "requested" + budgetNote(a, t), null, List.of(a));
            }
            case AUTO -> {
                Attempt a = attempt(mode, messages, t, o, templateKwargs, listener);
                boolean thought = !a.split.reasoning().isEmpty();
                yield result(t, thought ? "slow" : "fast", autoReason(protocol, thought) + budgetNote(a, t), null, List.of(a));
            }
            case CASCADE -> cascade(messages, t, o, templateKwargs, listener);
        };
    }

    /**
     * Why an auto-mode answer went as it did (the server says the same: it gave "the model chose" for models whose
     * protocol has no automatic switch at all).
     */
    public static String autoReason(ThinkProtocol protocol, boolean thought) {
        return protocol.autoSuffix() != null ? "the model chose to " + (thought ? "think" : "answer directly") + " (auto mode)"
                : "the model's default (its protocol has no automatic switch)";
    }

    private ThinkingResult cascade(List<ChatMessage> messages, ThinkingOptions t, GenerateOptions o, Map<String, ?> kw,
                                   ThinkingListener listener) {
        List<Held> held = new ArrayList<>();
        Attempt fast = attempt(ThinkingMode.FAST, messages, t, o, kw, (id, step, r, c) -> held.add(new Held(id, step, r, c)));
        Confidence conf = confidence(fast, o);
        boolean truncated = "length".equals(fast.generation.finishReason());
        if (conf.confident(t.cascade()) && !truncated) {
            for (Held e : held) {
                if (!listener.onToken(e.id, e.step, e.reasoning, e.content)) break;
            }
            return result(t, "fast", "confident: " + conf.explain(t.cascade()), conf, List.of(fast));
        }
        String why = truncated ? "the fast answer hit the token limit" : conf.explain(t.cascade());
        listener.onEscalation(why);
        Attempt slow = attempt(ThinkingMode.SLOW, messages, t, o, kw, listener);
        return result(t, "slow", "unsure (" + why + "): answered again in slow mode" + budgetNote(slow, t), conf, List.of(fast, slow));
    }

    /** The fast attempt's confidence over its answer tokens (think block and end-of-turn tokens left out). */
    static Confidence confidence(Attempt a, GenerateOptions o) {
        List<Step> steps = a.generation.steps();
        double[] lp = new double[steps.size()];
        int n = 0;
        for (int i = 0; i < steps.size(); i++) {
            if (!a.budget.isAnswerToken(i) || contains(o.stopIds(), steps.get(i).id())) continue;
            lp[n++] = steps.get(i).logprob();
        }
        return Confidence.of(lp, n);
    }

    private Attempt attempt(ThinkingMode mode, List<ChatMessage> messages, ThinkingOptions t, GenerateOptions o,
                            Map<String, ?> kw, ThinkingListener listener) {
        String prompt = ThinkPrompt.render(template, messages, mode, protocol, kw);
        int[] ids = tokenizer.encodePrompt(prompt);
        boolean opened = protocol.promptOpensReasoning(prompt);
        int[] message = t.budget() > 0 && !t.budgetMessage().isEmpty() ? tokenizer.encode(t.budgetMessage()) : new int[0];
        ThinkingBudget budget = new ThinkingBudget(protocol, opened, t.budget(), message);
        ReasoningParser parser = new ReasoningParser(protocol, opened);
        boolean[] live = {true};
        TokenListener stream = (id, piece, step) -> {
            ReasoningParser.Delta d = parser.pushToken(id, piece);
            live[0] = listener.onToken(id, step, d.reasoning(), d.content());
            return live[0];
        };
        GenerationResult r = generator.generate(ids, o, stream, budget);
        ReasoningParser.Delta rest = parser.finish();
        if (live[0] && !rest.isEmpty()) listener.onToken(-1, null, rest.reasoning(), rest.content());
        ReasoningParser.Split split = ReasoningParser.split(protocol, opened, r.text());
        return new Attempt(mode, prompt, r, budget, split);
    }

    private ThinkingResult result(ThinkingOptions t, String modeUsed, String reason, Confidence conf, List<Attempt> attempts) {
        Attempt last = attempts.getLast();
        List<ThinkingResult.Attempt> runs = new ArrayList<>();
        for (Attempt a : attempts) {
            runs.add(new ThinkingResult.Attempt(a.mode, a.prompt, a.generation, a.budget.reasoningTokens(), a.budget.budgetReached()));
        }
        return new ThinkingResult(last.split.reasoning(), last.split.content(), t.mode(), modeUsed, reason,
                last.budget.reasoningTokens(), last.budget.budgetReached(), conf, List.copyOf(runs));
    }

    private static String budgetNote(Attempt a, ThinkingOptions t) {
        return a.budget.budgetReached() ? "; thinking budget of " + t.budget() + " tokens reached" : "";
    }

    private static boolean contains(int[] a, int x) {
        if (a == null) return false;
        for (int v : a) if (v == x) return true;
        return false;
    }

    private record Held(int id, Step step, String reasoning, String content) {
    }

    record Attempt(ThinkingMode mode, String prompt, GenerationResult generation, ThinkingBudget budget,
                   ReasoningParser.Split split) {
    }
}
