package moge.generate;

import java.util.List;

/**
 * @param finishReason "stop" (EOS or a stop string), "length" (max tokens or context full) or "cancelled"
 */
public record GenerationResult(int[] promptIds, int[] generatedIds, String text, List<Step> steps, List<Step> promptSteps,
                               String finishReason, Timings timings) {
}
