package moge.thinking;

import moge.chat.ChatMessage;
import moge.generate.GenerateOptions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Runs a labelled task set in one thinking mode and scores it: accuracy (normalised exact match of the answer after
 * the think block), generated tokens (all attempts, so a cascade pays for both) and wall-clock latency per prompt,
 * overall and per difficulty class.
 */
public final class ThinkingEval {
    private ThinkingEval() {
    }

    /** One prompt's outcome. */
    public record Item(EvalTask task, String reasoning, String content, boolean correct, int tokens, int reasoningTokens,
                       double latencyMs, String modeUsed, boolean escalated) {
    }

    /** Aggregates over a group of items (a whole mode, or one difficulty class). */
    public record Stats(int n, int correct, double accuracy, double meanTokens, double meanReasoningTokens,
                        double meanLatencyMs, Map<String, Integer> modeUsed, int escalations) {
        static Stats of(List<Item> items) {
            int n = items.size(), correct = 0, escalations = 0;
            double tokens = 0, reasoning = 0, ms = 0;
            Map<String, Integer> used = new TreeMap<>();
            for (Item i : items) {
                if (i.correct) correct++;
                if (i.escalated) escalations++;
                tokens += i.tokens;
                reasoning += i.reasoningTokens;
                ms += i.latencyMs;
                used.merge(i.modeUsed, 1, Integer::sum);
            }
            double d = Math.max(1, n);
            return new Stats(n, correct, correct / d, tokens / d, reasoning / d, ms / d, used, escalations);
        }
    }

    /**
     * A mode's results: overall, per difficulty and per task class (groups in order of first appearance), and per
     * item.
     */
    public record ModeResult(ThinkingMode mode, Stats overall, Map<String, Stats> perDifficulty, Map<String, Stats> perClass,
                             List<Item> items) {
    }

    public static ModeResult run(ThinkingRunner runner, List<EvalTask> tasks, ThinkingOptions t, GenerateOptions o,
                                 Consumer<Item> progress) {
        List<Item> items = new ArrayList<>();
        for (EvalTask task : tasks) {
            List<ChatMessage> msgs = new ArrayList<>();
            if (task.system() != null) msgs.add(ChatMessage.system(task.system()));
            msgs.add(ChatMessage.user(task.prompt()));
            long t0 = System.nanoTime();
            ThinkingResult r = runner.chat(msgs, t, o, ThinkingListener.NONE);
            double ms = (System.nanoTime() - t0) / 1e6;
            Item item = new Item(task, r.reasoning(), r.content(), AnswerCheck.matches(r.content(), task.answer()),
                    r.totalGeneratedTokens(), r.totalReasoningTokens(), ms, r.modeUsed(), r.escalated());
            items.add(item);
            if (progress != null) progress.accept(item);
        }
        return new ModeResult(t.mode(), Stats.of(items), group(items, EvalTask::difficulty), group(items, EvalTask::cls),
                List.copyOf(items));
    }

    private static Map<String, Stats> group(List<Item> items, java.util.function.Function<EvalTask, String> key) {
        Map<String, List<Item>> by = new LinkedHashMap<>();
        for (Item i : items) by.computeIfAbsent(key.apply(i.task), k -> new ArrayList<>()).add(i);
        Map<String, Stats> out = new LinkedHashMap<>();
        by.forEach((k, v) -> out.put(k, Stats.of(v)));
        return out;
    }
}
