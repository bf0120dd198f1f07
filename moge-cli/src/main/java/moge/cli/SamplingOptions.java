package moge.cli;

import moge.MogeException;
import moge.sample.SamplerParams;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sampling flags shared by generate, chat and eval. */
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

    @Option(names = {"-l", "--logit-bias"}, paramLabel = "ID(+|-)BIAS", description = "Add BIAS to the logit of token ID, as "
            + "llama.cpp: 15043+1, 15043-0.5; -100 or -inf bans the token (|BIAS| <= 100). Repeatable.")
    public List<String> logitBias = new ArrayList<>();

    /** llama.cpp's form: the id, then the signed bias, which may be -inf. */
    private static final Pattern BIAS = Pattern.compile("([0-9]{1,10})([+-])((?i:inf(?:inity)?)|(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?)");

    /** The settings for a model with {@code vocab} token ids (which the bias must name). */
    public SamplerParams params(int vocab) {
        Map<Integer, Float> bias = new HashMap<>();
        for (String v : logitBias) {
            Matcher m = BIAS.matcher(v);
            if (!m.matches() || Long.parseLong(m.group(1)) > Integer.MAX_VALUE) {
                throw new MogeException("--logit-bias takes TOKEN_ID(+|-)BIAS such as 15043+1 or 15043-inf, got '" + v + "'");
            }
            boolean minus = m.group(2).equals("-");
            float b;
            // -inf is llama.cpp's ban, which -100 is here; +inf is left to fail the range check
            if (Character.isLetter(m.group(3).charAt(0))) b = minus ? SamplerParams.BAN : Float.POSITIVE_INFINITY;
            else b = minus ? -Float.parseFloat(m.group(3)) : Float.parseFloat(m.group(3));
            if (bias.put(Integer.parseInt(m.group(1)), b) != null) throw new MogeException("--logit-bias names token " + m.group(1) + " twice");
        }
        SamplerParams p = new SamplerParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty,
                frequencyPenalty, seed, bias);
        // the flags are the API names in kebab case: top_p is --top-p
        p.validate(name -> "--" + name.replace('_', '-'), vocab);
        return p;
    }
}
