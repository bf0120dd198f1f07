package moge.server.sched;

/**
 * How a sequence ended and what it cost.
 *
 * @param finishReason     "stop" (a stop id or string) or "length" (max tokens, the context, or the deadline)
 * @param promptTokens     all prompt tokens
 * @param cachedTokens     prompt tokens whose keys came from the prefix cache
 * @param completionTokens generated tokens
 * @param reasoningTokens  generated tokens a policy counted as reasoning
 * @param promptMs         from admission to the first generated token's logits
 * @param predictedMs      from the first generated token to the last
 * @param queueMs          waiting for admission
 * @param draftN           tokens proposed by speculative decoding (llama-server's draft_n)
 * @param draftAccepted    proposed tokens the model accepted (draft_n_accepted)
 */
public record SequenceResult(String finishReason, String text, int[] generatedIds, int promptTokens, int cachedTokens,
                             int completionTokens, int reasoningTokens, double promptMs, double predictedMs, double queueMs,
                             int draftN, int draftAccepted) {
    /** Prompt tokens that ran through the model (not from the cache). */
    public int promptProcessed() {
        return promptTokens - cachedTokens;
    }
}
