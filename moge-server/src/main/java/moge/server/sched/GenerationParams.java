package moge.server.sched;

import moge.constrain.OutputConstraint;
import moge.sample.SamplerParams;
import moge.tokenizer.TextMode;

import java.util.List;

/**
 * What one request asks of the decode loop.
 *
 * @param maxTokens        generated tokens at most (the prompt plus these must fit the context)
 * @param stopIds          ids that end generation (EOS, end of turn) unless ignoreEos
 * @param stopStrings      texts that end generation; the output is cut before them and never shows a part
 * @param topLogprobs      -1: no log-probabilities; 0: the chosen token's; k: also the k most likely
 * @param deadlineNanos    System.nanoTime() after which the request is ended (Long.MAX_VALUE: none)
 * @param allowSpeculation false opts this request out of speculative decoding
 * @param textMode         how the ids become text: a chat reply, or a continuation of the prompt's text
 * @param constraint       what the output must be (JSON of a schema; response_format), or null for free text
 * @param minTokens        no end of the output (stopIds, stopTokenIds) before this many generated tokens
 * @param stopTokenIds     further ids that end generation, ignoreEos or not (vLLM's stop_token_ids)
 */
public record GenerationParams(int maxTokens, SamplerParams sampler, int[] stopIds, List<String> stopStrings, boolean ignoreEos,
                               int topLogprobs, long deadlineNanos, boolean allowSpeculation, TextMode textMode,
                               OutputConstraint constraint, int minTokens, int[] stopTokenIds) {
    public GenerationParams {
        stopIds = stopIds == null ? new int[0] : stopIds.clone();
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
        if (textMode == null) textMode = TextMode.CHAT;
    }

    /** No minimum length and no stop ids beyond {@code stopIds}. */
    public GenerationParams(int maxTokens, SamplerParams sampler, int[] stopIds, List<String> stopStrings, boolean ignoreEos,
                            int topLogprobs, long deadlineNanos, boolean allowSpeculation, TextMode textMode, OutputConstraint constraint) {
        this(maxTokens, sampler, stopIds, stopStrings, ignoreEos, topLogprobs, deadlineNanos, allowSpeculation, textMode, constraint, 0, null);
    }

    /** Free text (no constraint). */
    public GenerationParams(int maxTokens, SamplerParams sampler, int[] stopIds, List<String> stopStrings, boolean ignoreEos,
                            int topLogprobs, long deadlineNanos, boolean allowSpeculation, TextMode textMode) {
        this(maxTokens, sampler, stopIds, stopStrings, ignoreEos, topLogprobs, deadlineNanos, allowSpeculation, textMode, null);
    }

    /** A chat reply's parameters ({@link TextMode#CHAT}). */
    public GenerationParams(int maxTokens, SamplerParams sampler, int[] stopIds, List<String> stopStrings, boolean ignoreEos,
                            int topLogprobs, long deadlineNanos, boolean allowSpeculation) {
        this(maxTokens, sampler, stopIds, stopStrings, ignoreEos, topLogprobs, deadlineNanos, allowSpeculation, TextMode.CHAT);
    }

    public static GenerationParams greedy(int maxTokens, int[] stopIds) {
        return new GenerationParams(maxTokens, SamplerParams.greedy(), stopIds, List.of(), false, -1, Long.MAX_VALUE, true);
    }

    public boolean wantsLogprobs() {
        return topLogprobs >= 0;
    }
}
