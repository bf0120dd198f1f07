package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.generate.Step;
import moge.server.sched.GenerationPolicy;
import moge.server.sched.SequenceResult;
import moge.server.sched.SequenceState;
import moge.thinking.Confidence;
import moge.thinking.ReasoningParser;
import moge.thinking.ThinkPrompt;
import moge.thinking.ThinkingBudget;
import moge.thinking.ThinkingMode;
import moge.thinking.ThinkingOptions;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * One chat request in a thinking mode: the mode's switch in the last user turn and in the template variables, the
 * budget enforced by forcing the end-of-think token, reasoning split from the answer. A cascade runs a held-back
 * fast attempt first and accepts it only when its answer tokens' log-probabilities are confident.
 */
final class ThinkingPlan implements RequestPlan {
    private final ThinkingHooks hooks;
    private final ThinkingOptions t;
    private final List<ThinkingMode> attempts;
    private ThinkingBudget budget;
    private Confidence confidence;
    private String reason;

    ThinkingPlan(ThinkingHooks hooks, ThinkingOptions t) {
        this.hooks = hooks;
        this.t = t;
        if (t.budget() == 0 && t.mode() != ThinkingMode.FAST) {
            attempts = List.of(ThinkingMode.FAST);
            reason = "thinking budget 0: answered without thinking";
        } else if (t.mode() == ThinkingMode.CASCADE) {
            attempts = List.of(ThinkingMode.FAST, ThinkingMode.SLOW);
        } else {
            attempts = List.of(t.mode());
            reason = t.mode() == ThinkingMode.AUTO ? null : "requested";
        }
    }

    private ThinkingMode mode(int attempt) {
        return attempts.get(Math.min(attempt, attempts.size() - 1));
    }

    @Override
    public List<ChatMessage> messages(int attempt, List<ChatMessage> messages) {
        return ThinkPrompt.rewrite(messages, mode(attempt), hooks.protocol());
    }

    @Override
    public Map<String, Object> templateVariables(int attempt, Map<String, Object> fromClient) {
        Map<String, Object> vars = new LinkedHashMap<>(ThinkPrompt.templateKwargs(mode(attempt)));
        vars.putAll(fromClient);
        return vars;
    }

    @Override
    public GenerationPolicy policy(int attempt, int[] promptIds, String promptText) {
        budget = new ThinkingBudget(hooks.protocol(), hooks.protocol().promptOpensReasoning(promptText), t.budget(),
                hooks.budgetMessageIds(t));
        ThinkingBudget b = budget;
        return new GenerationPolicy() {
            int lastForced = -1;

            @Override
            public boolean mayForce() {
                return b.mayForce();
            }

            @Override
            public int forceNext(SequenceState s) {
                lastForced = b.forcedToken();
                return lastForced;
            }

            @Override
            public void onToken(SequenceState s, int id) {
                int before = b.reasoningTokens();
                b.accepted(id, lastForced >= 0 && id == lastForced);
                lastForced = -1;
                s.addReasoningTokens(b.reasoningTokens() - before);
            }
        };
    }

    @Override
    public OutputSplitter splitter(int attempt, int[] promptIds, String promptText) {
        ReasoningParser p = ReasoningParser.forPrompt(hooks.protocol(), promptText);
        return new OutputSplitter() {
            @Override
            public Delta push(String text) {
                return convert(p.push(text));
            }

            @Override
            public Delta flush() {
                return convert(p.finish());
            }
        };
    }

    /**
     * Tokens after the think block, as the splitter's content has them: without the white space it trims from the
     * start of the answer, but with white space inside it. Reasoning tokens have no place in OpenAI's logprobs.
     */
    @Override
    public IntPredicate contentTokens(int attempt, String promptText) {
        ThinkingBudget block = ThinkingBudget.counting(hooks.protocol(), hooks.protocol().promptOpensReasoning(promptText));
        return new IntPredicate() {
            int n;
            boolean started;

            @Override
            public boolean test(int id) {
                block.accepted(id, false);
                if (!block.isAnswerToken(n++)) return false;
                if (!started) started = !hooks.isBlank(id);
                return started;
            }
        };
    }

    private static OutputSplitter.Delta convert(ReasoningParser.Delta d) {
        return d.isEmpty() ? OutputSplitter.Delta.EMPTY : new OutputSplitter.Delta(d.reasoning(), d.content());
    }

    @Override
    public boolean holdBack(int attempt) {
        return t.mode() == ThinkingMode.CASCADE && attempt == 0 && attempts.size() > 1;
    }

    @Override
    public boolean needsLogprobs(int attempt) {
        return holdBack(attempt);
    }

    @Override
    public boolean accept(int attempt, SequenceResult result, List<Step> steps) {
        if (!holdBack(attempt)) return true;
        double[] lp = new double[steps.size()];
        int n = 0;
        int[] stop = hooks.stopIds();
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            if (!budget.isAnswerToken(i) || contains(stop, s.id())) continue;
            lp[n++] = s.logprob();
        }
        confidence = Confidence.of(lp, n);
        boolean truncated = "length".equals(result.finishReason());
        if (confidence.confident(t.cascade()) && !truncated) {
            reason = "confident: " + confidence.explain(t.cascade());
            return true;
        }
        reason = "unsure (" + (truncated ? "the fast answer hit the token limit" : confidence.explain(t.cascade()))
                + "): answered again in slow mode";
        return false;
    }

    @Override
    public void decorate(ObjectNode response, boolean reasoned) {
        ThinkingMode last = mode(Integer.MAX_VALUE);
        boolean escalated = t.mode() == ThinkingMode.CASCADE && confidence != null && !reason.startsWith("confident");
        String used = switch (t.mode()) {
            case AUTO -> reasoned ? "slow" : "fast";
            case CASCADE -> escalated ? "slow" : "fast";
            default -> attempts.getFirst() == ThinkingMode.FAST ? "fast" : last.label();
        };
        String why = reason != null ? reason : moge.thinking.ThinkingRunner.autoReason(hooks.protocol(), reasoned);
        // budget 0 already says why in its reason; "a budget of 0 tokens reached" after it only repeated it (the CLI never did)
        if (budget != null && budget.budgetReached() && t.budget() > 0) why += "; thinking budget of " + t.budget() + " tokens reached";
        ObjectNode th = response.putObject("thinking");
        th.put("mode", t.mode().label());
        th.put("mode_used", used);
        th.put("reason", why);
        if (t.budget() >= 0) th.put("budget", t.budget());
        th.put("budget_reached", budget != null && budget.budgetReached());
        if (confidence != null) {
            ObjectNode c = th.putObject("confidence");
            c.put("tokens", confidence.tokens());
            c.put("mean_logprob", round(confidence.meanLogprob()));
            c.put("min_logprob", round(confidence.minLogprob()));
        }
        hooks.count(t.mode(), used, escalated);
    }

    private static double round(double x) {
        return Double.parseDouble(String.format(Locale.ROOT, "%.4f", x));
    }

    private static boolean contains(int[] a, int x) {
        for (int v : a) if (v == x) return true;
        return false;
    }
}
