package moge.sample;

/**
 * How the next token is chosen. temperature <= 0 means greedy (argmax, ties to the lower id). topK <= 0,
 * topP >= 1 and minP <= 0 switch those filters off; penalties of 1 (repeat) and 0 (presence, frequency)
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
        if (Float.isNaN(temperature) || temperature < 0) throw new moge.MogeException("temperature must be >= 0, got " + temperature);
        if (Float.isNaN(topP) || topP <= 0 || topP > 1) throw new moge.MogeException("top_p must be in (0, 1], got " + topP);
        if (Float.isNaN(minP) || minP < 0 || minP > 1) throw new moge.MogeException("min_p must be in [0, 1], got " + minP);
        if (topK < 0) throw new moge.MogeException("top_k must be >= 0, got " + topK);
        if (Float.isNaN(repeatPenalty) || repeatPenalty <= 0) throw new moge.MogeException("repeat penalty must be > 0, got " + repeatPenalty);
        if (Float.isNaN(presencePenalty) || presencePenalty < -2 || presencePenalty > 2) {
            throw new moge.MogeException("presence_penalty must be in [-2, 2], got " + presencePenalty);
        }
        if (Float.isNaN(frequencyPenalty) || frequencyPenalty < -2 || frequencyPenalty > 2) {
            throw new moge.MogeException("frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
        }
    }
}
