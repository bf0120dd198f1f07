package moge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.thinking.Confidence;
import moge.thinking.ThinkingOptions;
import moge.thinking.ThinkingResult;

/** The thinking part of `generate --chat --json`: reasoning apart from the answer, mode info and OpenAI-style usage. */
final class ThinkingJson {
    private ThinkingJson() {
    }

    /** {@code n} is the last attempt's record, whose {@code text} still holds the think block and its markers. */
    static void put(ObjectNode n, ThinkingResult r, ThinkingOptions t) {
        // text is the answer, as the server's message.content and the chat's printed reply: a script reading
        // .text of a thinking model got the markers and the reasoning in front of it
        n.put("text", r.content());
        n.put("reasoning", r.reasoning());
        n.put("content", r.content());
        ObjectNode th = n.putObject("thinking");
        th.put("mode", r.requested().label());
        th.put("mode_used", r.modeUsed());
        th.put("reason", r.reason());
        if (t.budget() >= 0) th.put("budget", t.budget());
        th.put("budget_reached", r.budgetReached());
        th.put("reasoning_tokens", r.reasoningTokens());
        th.put("attempts", r.attempts().size());
        Confidence c = r.confidence();
        if (c != null) {
            ObjectNode cn = th.putObject("confidence");
            cn.put("tokens", c.tokens());
            cn.put("mean_logprob", c.meanLogprob());
            cn.put("min_logprob", c.minLogprob());
        }
        ObjectNode usage = n.putObject("usage");
        usage.put("prompt_tokens", r.last().promptIds().length);
        usage.put("completion_tokens", r.totalGeneratedTokens());
        usage.putObject("completion_tokens_details").put("reasoning_tokens", r.totalReasoningTokens());
    }
}
