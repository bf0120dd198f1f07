package moge.cli;

import moge.MogeException;
import moge.thinking.Confidence;
import moge.thinking.ThinkingBudget;
import moge.thinking.ThinkingMode;
import moge.thinking.ThinkingOptions;
import picocli.CommandLine.Option;

/** Thinking flags shared by generate --chat, chat and eval (mixed in with @Mixin). */
public final class ThinkingCliOptions {
    @Option(names = "--think", paramLabel = "MODE",
            description = "slow (think first; the model's default), fast (answer directly), auto (the model decides) "
                    + "or cascade (fast, then slow only when unsure). Default: slow.")
    public String think;

    @Option(names = "--thinking-budget", paramLabel = "N",
            description = "Reasoning tokens at most; then the engine closes the think block and the model answers (0 = no thinking).")
    public Integer budget;

    // llama.cpp's name (llama-server --reasoning-budget: -1 unlimited, 0 no thinking), hidden so that help shows one name
    @Option(names = "--reasoning-budget", hidden = true, paramLabel = "N")
    void reasoningBudget(int n) {
        budget = n == -1 ? null : n;
    }

    @Option(names = "--budget-message", paramLabel = "TEXT",
            description = "Text forced into the reasoning when the budget runs out (default: \"(thinking budget reached)\"; \"\" for none).")
    public String budgetMessage;

    @Option(names = "--cascade-mean", paramLabel = "LOGPROB",
            description = "Cascade: mean log-probability of the fast answer's tokens needed to keep it (default ${DEFAULT-VALUE}).")
    public double cascadeMean = Confidence.Thresholds.DEFAULT.mean();

    @Option(names = "--cascade-min", paramLabel = "LOGPROB",
            description = "Cascade: every fast-answer token needs at least this log-probability (default ${DEFAULT-VALUE}).")
    public double cascadeMin = Confidence.Thresholds.DEFAULT.min();

    /** Whether any thinking flag was given (they need a chat prompt). */
    public boolean given() {
        return think != null || budget != null || budgetMessage != null;
    }

    public ThinkingOptions options() {
        return options(think == null ? ThinkingMode.SLOW : mode(think));
    }

    /** One mode named by --think; the error names the flag, as every other option's does. */
    static ThinkingMode mode(String s) {
        try {
            return ThinkingMode.parse(s);
        } catch (MogeException e) {
            throw new MogeException("--think: " + e.getMessage());
        }
    }

    public ThinkingOptions options(ThinkingMode mode) {
        if (budget != null && budget < 0) throw new MogeException("--thinking-budget must be >= 0, got " + budget);
        String message = budgetMessage != null ? unescape(budgetMessage) : ThinkingOptions.DEFAULT_BUDGET_MESSAGE;
        return new ThinkingOptions(mode, budget == null ? ThinkingBudget.UNLIMITED : budget, message,
                new Confidence.Thresholds(cascadeMean, cascadeMin));
    }

    /** Lets a shell user write "\n" in the message. */
    private static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
