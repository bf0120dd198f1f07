package moge.generate;

import moge.sample.SamplerParams;
import moge.tokenizer.TextMode;

import java.util.List;

/**
 * @param stopIds        ids that end generation (EOS, end of turn) unless ignoreEos
 * @param topLogprobs    alternatives recorded per step (0 = only the chosen token's log-probability)
 * @param promptLogprobs also record a step for every prompt position (costs logits for the whole prompt)
 * @param stopStrings    texts that end generation; the text is cut before them
 * @param textMode       how the ids become text: a chat reply, or a continuation of the prompt's text
 */
public record GenerateOptions(int maxTokens, SamplerParams sampler, int[] stopIds, boolean ignoreEos, int topLogprobs,
                              boolean promptLogprobs, List<String> stopStrings, TextMode textMode) {

    /** Options for a chat reply ({@link TextMode#CHAT}). */
    public GenerateOptions(int maxTokens, SamplerParams sampler, int[] stopIds, boolean ignoreEos, int topLogprobs,
                           boolean promptLogprobs, List<String> stopStrings) {
        this(maxTokens, sampler, stopIds, ignoreEos, topLogprobs, promptLogprobs, stopStrings, TextMode.CHAT);
    }

    public static GenerateOptions greedy(int maxTokens, int[] stopIds) {
        return new GenerateOptions(maxTokens, SamplerParams.greedy(), stopIds, false, 5, false, List.of());
    }

    public GenerateOptions withPromptLogprobs(boolean on) {
        return new GenerateOptions(maxTokens, sampler, stopIds, ignoreEos, topLogprobs, on, stopStrings, textMode);
    }

    public GenerateOptions withIgnoreEos(boolean on) {
        return new GenerateOptions(maxTokens, sampler, stopIds, on, topLogprobs, promptLogprobs, stopStrings, textMode);
    }

    public GenerateOptions withTextMode(TextMode mode) {
        return new GenerateOptions(maxTokens, sampler, stopIds, ignoreEos, topLogprobs, promptLogprobs, stopStrings, mode);
    }
}
