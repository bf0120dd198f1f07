package moge.sample;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * How the next token is chosen. temperature <= 0 means greedy (argmax, ties to the lower id). topK <= 0,
 * topP >= 1 and minP <= 0 switch those filters off (topP 0 keeps only the most likely token); penalties of 1 (repeat) and 0 (presence, frequency)
 * likewise. seed < 0 draws a seed from the clock.
 * <p>{@code logitBias} maps token ids to a value added to their logits before anything else (OpenAI's
 * logit_bias), each in [-100, 100]; {@link #BAN} (-100) bans the token outright, greedy decoding included,
 * rather than merely making it unlikely. Kept sorted by id, so that messages and iteration are stable.
 */
public record SamplerParams(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                            float presencePenalty, float frequencyPenalty, long seed, Map<Integer, Float> logitBias) {

    /** A bias of this value (the lowest allowed) bans a token: it can never be chosen. */
    public static final float BAN = -100f;

    public SamplerParams {
        logitBias = logitBias == null || logitBias.isEmpty() ? Map.of() : Collections.unmodifiableSortedMap(new TreeMap<>(logitBias));
    }

    /** Without a logit bias: the settings as they were before there was one. */
    public SamplerParams(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
                         float presencePenalty, float frequencyPenalty, long seed) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, Map.of());
    }

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
        return new SamplerParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, s, logitBias);
    }

    public SamplerParams withTemperature(float t) {
        return new SamplerParams(t, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, logitBias);
    }

    public SamplerParams withLogitBias(Map<Integer, Float> bias) {
        return new SamplerParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, bias);
    }

    /**
     * These settings for a model with a vocabulary of {@code vocab} ids: the bias of ids past it left out. A
     * draft model may have fewer (unpadded) ids than the target the bias was checked against, and could not
     * propose those ids anyway.
     */
    public SamplerParams withinVocab(int vocab) {
        TreeMap<Integer, Float> kept = new TreeMap<>(logitBias);
        kept.tailMap(vocab).clear();
        return kept.size() == logitBias.size() ? this : withLogitBias(kept);
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
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() < 0) fail(name, "logit_bias", "token ids must be >= 0", e.getKey());
            float v = e.getValue();
            if (!(v >= BAN && v <= 100)) fail(name, "logit_bias", "of token " + e.getKey() + " must be in [-100, 100]", v);
        }
    }

    /** As {@link #validate(UnaryOperator)}, and the biased ids must be in a vocabulary of {@code vocab} ids. */
    public void validate(UnaryOperator<String> name, int vocab) {
        validate(name);
        int banned = 0;
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() >= vocab) fail(name, "logit_bias", "token ids must be in the vocabulary (0.." + (vocab - 1) + ")", e.getKey());
            if (e.getValue() <= BAN) banned++;
        }
        // nothing would be left to choose from
        if (banned >= vocab) fail(name, "logit_bias", "must not ban every token of the vocabulary", banned + " banned");
    }

    private static void fail(UnaryOperator<String> name, String param, String rule, Object got) {
        throw new moge.MogeException(name.apply(param) + " " + rule + ", got " + got);
    }
}
