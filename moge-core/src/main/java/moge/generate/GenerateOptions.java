package moge.generate;

import moge.sample.SamplerParams;

import java.util.List;

/**
 * @param stopIds        ids that end generation (EOS, end of turn) unless ignoreEos
 * @param topLogprobs    alternatives recorded per step (0 = only the chosen token's log-probability)
 * @param promptLogprobs also record a step for every prompt position (costs logits for the whole prompt)
 * @param stopStrings    texts that end generation; the text is cut before them
 */
public record GenerateOptions(int maxTokens, SamplerParams sampler, int[] stopIds, boolean ignoreEos, int topLogprobs,
                              boolean promptLogprobs, List<String> stopStrings) {

    public static GenerateOptions greedy(int maxTokens, int[] stopIds) {
        return new GenerateOptions(maxTokens, SamplerParams.greedy(), stopIds, false, 5, false, List.of());
    }

    public GenerateOptions withPromptLogprobs(boolean on) {
        return new GenerateOptions(maxTokens, sampler, stopIds, ignoreEos, topLogprobs, on, stopStrings);
    }

    public GenerateOptions withIgnoreEos(boolean on) {
        return new GenerateOptions(maxTokens, sampler, stopIds, on, topLogprobs, promptLogprobs, stopStrings);
    }
}
