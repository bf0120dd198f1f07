package moge.sample;

import java.util.function.UnaryOperator;

/**
 * How the next token is chosen. temperature <= 0 means greedy (argmax, ties to the lower id). topK <= 0,
 * topP >= 1 and minP <= 0 switch those filters off (topP 0 keeps only the most likely token); penalties of 1 (repeat) and 0 (presence, frequency)
 * likewise. seed < 0 draws a seed from the clock.
 */
public record SamplerParams(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                            float presencePenalty, float frequencyPenalty, long seed) {

    public static SamplerParams greedy() {
        return new SamplerParams(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, 0);
    }

    public boolean isGreedy() {
        return temperature <= 0f;
    }

    public boolean hasPenalties() {
        return repeatPenalty != 1f || presencePenalty != 0f || frequencyPenalty != 0f;
    }

    public SamplerParams withSeed(long s) {
        return new SamplerParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, s);
    }

    public SamplerParams withTemperature(float t) {
        return new SamplerParams(t, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed);
    }

    public void validate() {
        validate(UnaryOperator.identity());
    }

    /**
     * Checks the ranges; {@code name} turns a parameter's API name ("top_p") into what the caller's user typed
     * (the CLI's "--top-p"), so that the message names the right thing.
     */
    public void validate(UnaryOperator<String> name) {
        if (Float.isNaN(temperature) || temperature < 0) fail(name, "temperature", "must be >= 0", temperature);
        // 0 keeps only the most likely token, as OpenAI allows
        if (Float.isNaN(topP) || topP < 0 || topP > 1) fail(name, "top_p", "must be in [0, 1]", topP);
        if (Float.isNaN(minP) || minP < 0 || minP > 1) fail(name, "min_p", "must be in [0, 1]", minP);
        if (topK < 0) fail(name, "top_k", "must be >= 0", topK);
        if (Float.isNaN(repeatPenalty) || repeatPenalty <= 0) fail(name, "repeat_penalty", "must be > 0", repeatPenalty);
        if (Float.isNaN(presencePenalty) || presencePenalty < -2 || presencePenalty > 2) {
            fail(name, "presence_penalty", "must be in [-2, 2]", presencePenalty);
        }
        if (Float.isNaN(frequencyPenalty) || frequencyPenalty < -2 || frequencyPenalty > 2) {
            fail(name, "frequency_penalty", "must be in [-2, 2]", frequencyPenalty);
        }
    }

    private static void fail(UnaryOperator<String> name, String param, String rule, Object got) {
        throw new moge.MogeException(name.apply(param) + " " + rule + ", got " + got);
    }
}
