package moge.thinking;

import moge.MogeException;

/**
 * Per-request thinking settings.
 *
 * @param mode          how to think
 * @param budget        reasoning tokens at most before the engine closes the block ({@link ThinkingBudget#UNLIMITED}
 *                      for no limit; 0 = no thinking at all)
 * @param budgetMessage text forced into the reasoning before the closing marker when the budget runs out ("" = none)
 * @param cascade       when a cascade answer counts as confident
 */
public record ThinkingOptions(ThinkingMode mode, int budget, String budgetMessage, Confidence.Thresholds cascade) {
    public static final String DEFAULT_BUDGET_MESSAGE = "\n(thinking budget reached)\n";

    public ThinkingOptions {
        if (mode == null) mode = ThinkingMode.SLOW;
        if (budget < ThinkingBudget.UNLIMITED) throw new MogeException("thinking budget must be >= 0, got " + budget);
        if (budgetMessage == null) budgetMessage = "";
        if (cascade == null) cascade = Confidence.Thresholds.DEFAULT;
    }

    public static ThinkingOptions of(ThinkingMode mode) {
        return new ThinkingOptions(mode, ThinkingBudget.UNLIMITED, DEFAULT_BUDGET_MESSAGE, Confidence.Thresholds.DEFAULT);
    }

    public ThinkingOptions withBudget(int tokens) {
        return new ThinkingOptions(mode, tokens, budgetMessage, cascade);
    }

    public ThinkingOptions withMode(ThinkingMode m) {
        return new ThinkingOptions(m, budget, budgetMessage, cascade);
    }

    public ThinkingOptions withCascade(Confidence.Thresholds t) {
        return new ThinkingOptions(mode, budget, budgetMessage, t);
    }

    public ThinkingOptions withBudgetMessage(String message) {
        return new ThinkingOptions(mode, budget, message, cascade);
    }
}
