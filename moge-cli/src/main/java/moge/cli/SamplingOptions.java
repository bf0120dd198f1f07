package moge.cli;

import moge.sample.SamplerParams;
import picocli.CommandLine.Option;

/** Sampling flags shared by generate and chat. */
public final class SamplingOptions {
    @Option(names = {"--temperature", "--temp"}, paramLabel = "T", description = "0 = greedy (default 0; --temp as llama.cpp).")
    public float temperature = 0f;

    @Option(names = "--top-k", paramLabel = "K", description = "Keep the K most likely tokens (0 = off).")
    public int topK = 0;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (1 = off, 0 = only the most likely token).")
    public float topP = 1f;

    @Option(names = "--min-p", paramLabel = "P", description = "Drop tokens below P x the top probability (0 = off).")
    public float minP = 0f;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "Penalty for recently seen tokens (1 = off).")
    public float repeatPenalty = 1f;

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "How many recent tokens the penalties look at (default 64).")
    public int repeatLastN = 64;

    @Option(names = "--presence-penalty", paramLabel = "P", description = "OpenAI-style presence penalty (0 = off).")
    public float presencePenalty = 0f;

    @Option(names = "--frequency-penalty", paramLabel = "P", description = "OpenAI-style frequency penalty (0 = off).")
    public float frequencyPenalty = 0f;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default 42; -1 = from the clock).")
    public long seed = 42;

    public SamplerParams params() {
        SamplerParams p = new SamplerParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty,
                frequencyPenalty, seed);
        // the flags are the API names in kebab case: top_p is --top-p
        p.validate(name -> "--" + name.replace('_', '-'));
        return p;
    }
}
