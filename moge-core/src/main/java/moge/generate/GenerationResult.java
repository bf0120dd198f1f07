package moge.generate;

import java.util.List;

/**
 * @param finishReason "stop" (EOS or a stop string), "length" (max tokens or context full) or "cancelled"
 * @param speculation  what speculative decoding did, or null when it was off
 */
public record GenerationResult(int[] promptIds, int[] generatedIds, String text, List<Step> steps, List<Step> promptSteps,
                               String finishReason, Timings timings, SpecStats speculation) {

    public GenerationResult(int[] promptIds, int[] generatedIds, String text, List<Step> steps, List<Step> promptSteps,
                            String finishReason, Timings timings) {
        this(promptIds, generatedIds, text, steps, promptSteps, finishReason, timings, null);
    }
}
