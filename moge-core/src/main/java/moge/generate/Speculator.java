package moge.generate;

import moge.model.KvSequence;
import moge.model.Model;
import moge.sample.Sampler;

/**
 * How the decode loop gets several tokens from one pass of the model: tokens are proposed cheaply and
 * verified together (moge.spec). Without a speculator the {@link Generator} feeds one token and samples one.
 */
public interface Speculator {
    /**
     * Called at the start of every generation, after the prompt is prefilled (and timed with it); resets
     * the statistics and lets a draft read the prompt.
     */
    void begin(int[] prompt);

    /**
     * One round. {@code history[0 .. len)} is the prompt and the output so far; its last token sits at
     * position {@code len - 1} and is not in the cache yet. Feeds it (with any proposals) through
     * {@code model}, writes the {@code n} tokens that follow ({@code 1 <= n <= limit}) and their steps, and
     * returns n. Afterwards {@code seq} holds exactly positions {@code 0 .. len - 2 + n}: the fed token and
     * the n - 1 accepted proposals; the last of the n tokens is, again, not cached.
     */
    int round(Model model, KvSequence seq, Sampler sampler, int[] history, int len, int limit, int topLogprobs,
              int[] outIds, Step[] outSteps);

    /** Counts and times since {@link #begin}. */
    SpecStats stats();
}
