package moge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.model.LoadedModel;
import moge.sample.SamplerParams;
import moge.spec.SpecBench;
import moge.spec.SpeculativeDecoder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The speculative test of {@code moge bench --spec ...}: greedy generation of {@code -n} tokens from a
 * copy-heavy prompt, plain and speculative runs alternating in one process ({@link SpecBench}), so that
 * both see the same machine. Only decoding is timed; each run prefills the prompt afresh.
 */
final class BenchSpeculation {
    /** An editing task: the answer copies most of the text it is given. */
    static final String COPY_TASK = """
            Rewrite the following paragraph, changing only "river" to "stream" and keeping everything else exactly as it is.

            The river ran past the old mill at the edge of the village, where the miller's children used to sit on the wall \
            and count the boats going down to the sea. In spring the river was high and brown with mud from the hills, and \
            the boats went fast; in late summer it was low and clear, and the children could see the fish between the stones. \
            Every evening the miller closed the sluice, walked along the river to the bridge, and looked back at the mill \
            before going home for supper.

            Rewritten paragraph:
            """;

    private BenchSpeculation() {
    }

    /**
     * The prompt: the file's text, else {@link #COPY_TASK}; without a tokenizer (a bare GGUF file), 50
     * pseudo-random ids said three times, which is copy-heavy too.
     */
    static int[] prompt(LoadedModel lm, Path file) {
        if (lm.tokenizer == null) {
            if (file != null) Prompts.requireTokenizer(lm);
            int bound = Math.min(25000, lm.config.vocabSize());
            int[] once = new int[50];
            long x = 777;
            for (int i = 0; i < once.length; i++) {
                x = (x * 1103515245L + 12345) & 0xFFFFFFFFL;
                once[i] = (int) (x % bound);
            }
            int[] p = new int[once.length * 3];
            for (int r = 0; r < 3; r++) System.arraycopy(once, 0, p, r * once.length, once.length);
            return p;
        }
        String text = COPY_TASK;
        if (file != null) {
            try {
                text = Files.readString(file);
            } catch (IOException e) {
                throw new MogeException(file + ": cannot read (" + e.getMessage() + ")");
            }
        }
        return lm.tokenizer.encodePrompt(text);
    }

    /** {@code pairs} measured pairs after one warm-up pair. */
    static SpecBench.Result run(ModelHandle h, SpeculativeDecoder d, int[] prompt, int nGen, int pairs) {
        int ctx = prompt.length + nGen + 1;
        if (ctx > h.loaded.config.maxPositions()) {
            throw new MogeException("the speculative test's prompt (" + prompt.length + " tokens) plus -n " + nGen + " exceed the model's "
                    + h.loaded.config.maxPositions() + " positions");
        }
        GenerateOptions o = new GenerateOptions(nGen, SamplerParams.greedy(), new int[0], true, 0, false, List.of());
        return SpecBench.run(h.model, h.loaded.tokenizer, d, prompt, o, ctx, 1, pairs, null);
    }

    /** Decode times per run as llama-bench samples: tokens over each speculative run's rate. */
    static long[] samplesNs(SpecBench.Result r, int nGen) {
        return Arrays.stream(r.specRates()).mapToLong(ts -> ts > 0 ? (long) (nGen / ts * 1e9) : 0).toArray();
    }

    /** The fields a speculative record adds to llama-bench's. */
    static void json(ObjectNode o, SpecBench.Result r) {
        o.put("spec_source", r.source());
        o.put("plain_ts", r.plainTokensPerSecond());
        o.put("spec_ts", r.specTokensPerSecond());
        o.put("speedup", r.medianSpeedup());
        o.put("speedup_total", r.speedup());
        o.put("speedup_best", r.bestSpeedup());
        o.put("acceptance_rate", r.acceptanceRate());
        o.put("mean_accepted", r.meanAccepted());
        o.put("mean_draft", r.meanDraft());
        o.put("max_draft", r.maxDraft());
        o.put("drafted", r.drafted());
        o.put("accepted", r.accepted());
        o.put("draft_ms", r.draftMs());
        o.put("verify_ms", r.verifyMs());
        o.put("n_pairs", r.pairs());
        o.put("identical", r.identical());
        var plain = o.putArray("plain_samples_ts");
        for (double v : r.plainRates()) plain.add(v);
    }

    /** One line under the table. */
    static String summary(String test, SpecBench.Result r) {
        return String.format("%s: plain %.2f t/s, speculative %.2f t/s, speedup %.2fx (median of pairs; total %.2fx, best runs %.2fx); "
                        + "acceptance %.1f%%, mean accepted %.2f of K %.2f (max %d)%s", test, r.plainTokensPerSecond(),
                r.specTokensPerSecond(), r.medianSpeedup(), r.speedup(), r.bestSpeedup(), 100 * r.acceptanceRate(), r.meanAccepted(),
                r.meanDraft(), r.maxDraft(), r.identical() ? "" : "  WARNING: output differs from plain decoding");
    }
}
