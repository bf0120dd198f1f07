package moge.thinking;

import moge.generate.GenerationResult;

import java.util.List;

/**
 * A thinking-aware answer.
 *
 * @param reasoning       the text of the think block (empty in fast mode)
 * @param content         the answer after the block
 * @param requested       the requested mode
 * @param modeUsed        "fast" or "slow": how the returned answer was produced
 * @param reason          why that mode was used (one line)
 * @param reasoningTokens tokens of the final attempt spent on the think block (the budget message included, the markers not)
 * @param budgetReached   the engine closed the block because the thinking budget ran out
 * @param confidence      the fast attempt's confidence (cascade only, else null)
 * @param attempts        every generation run, in order (two when a cascade escalated)
 */
public record ThinkingResult(String reasoning, String content, ThinkingMode requested, String modeUsed, String reason,
                             int reasoningTokens, boolean budgetReached, Confidence confidence, List<Attempt> attempts) {
    /** One generation run and the prompt it continued. */
    public record Attempt(ThinkingMode mode, String prompt, GenerationResult result, int reasoningTokens, boolean budgetReached) {
    }

    /** The run whose text is returned. */
    public GenerationResult last() {
        return attempts.getLast().result();
    }

    /** Tokens generated over all attempts (what the request cost). */
    public int totalGeneratedTokens() {
        int n = 0;
        for (Attempt a : attempts) n += a.result().generatedIds().length;
        return n;
    }

    /** Reasoning tokens over all attempts. */
    public int totalReasoningTokens() {
        int n = 0;
        for (Attempt a : attempts) n += a.reasoningTokens();
        return n;
    }

    public boolean escalated() {
        return requested == ThinkingMode.CASCADE && attempts.size() > 1;
    }
}
