package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.sample.SamplerParams;
import moge.spec.SpecBench;
import moge.spec.SpeculativeDecoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tokens per second with and without speculative decoding, runs alternating in one process. Until
 * {@code moge bench} takes {@code --spec}, this is where speculation is measured.
 */
@Command(name = "spec-bench", mixinStandardHelpOptions = true,
        description = "Measure speculative decoding against plain decoding (alternating runs, greedy, same prompt).")
public final class SpecBenchCommand implements Runnable {
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

    @Mixin
    ModelOptions model;

    @Mixin
    SpecOptions speculation;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "Prompt text (default: a copy-heavy editing task).")
    String prompt;

    @Option(names = "--prompt-file", paramLabel = "FILE", description = "Read the prompt from a file.")
    Path promptFile;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "IDS", description = "Prompt as token ids.")
    int[] promptIds;

    @Option(names = "--chat", description = "Send the prompt as one user turn through the chat template.")
    boolean chat;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "Tokens per run (default 128).")
    int maxTokens = 128;

    @Option(names = "--runs", paramLabel = "N", description = "Measured pairs of runs (default 4).")
    int runs = 4;

    @Option(names = "--warmup", paramLabel = "N", description = "Unmeasured pairs first (default 1).")
    int warmup = 1;

    @Option(names = "--json", description = "Print one JSON record.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (runs < 1) throw new MogeException("--runs must be >= 1, got " + runs);
        if (warmup < 0) throw new MogeException("--warmup must be >= 0, got " + warmup);
        if (maxTokens < 1) throw new MogeException("--max-tokens must be >= 1, got " + maxTokens);
        if (!speculation.config().enabled()) throw new MogeException("spec-bench needs --spec ngram|draft or --draft-model");
        PrintWriter out = spec.commandLine().getOut();
        try (ModelHandle h = model.open(); SpeculativeDecoder d = speculation.open(h.loaded, h.model, model.context(h.loaded))) {
            LoadedModel lm = h.loaded;
            Model m = h.model;
            int[] ids = promptIds();
            if (promptIds == null) ids = Prompts.encode(lm, text(), chat, null);
            GenerateOptions o = new GenerateOptions(maxTokens, SamplerParams.greedy(), new int[0], true, 0, false, List.of());
            SpecBench.Result r = SpecBench.run(m, lm.tokenizer, d, ids, o, model.context(lm), warmup, runs, json ? null : (i, n, a, b) -> {
                out.printf("pair %d/%d: plain %.2f tok/s, speculative %.2f tok/s, %d/%d accepted in %d passes%n", i, n,
                        a.timings().predictedPerSecond(), b.timings().predictedPerSecond(), b.speculation().accepted(),
                        b.speculation().drafted(), b.speculation().draftRounds());
                out.flush();
            });
            if (json) {
                out.println(toJson(lm, ids.length, r).toPrettyString());
            } else {
                out.printf("%s, %s: plain %.2f tok/s, speculative %.2f tok/s, speedup %.2fx (median of pairs %.2fx, best runs %.2fx);"
                                + " acceptance %.1f%%,"
                                + " mean accepted %.2f of K %.2f (max %d)%s%n", lm.name(), r.source(), r.plainTokensPerSecond(),
                        r.specTokensPerSecond(), r.speedup(), r.medianSpeedup(), r.bestSpeedup(),
                        100 * r.acceptanceRate(), r.meanAccepted(), r.meanDraft(), r.maxDraft(),
                        r.identical() ? "" : "  WARNING: output differs from plain decoding");
            }
        }
    }

    private int[] promptIds() {
        return promptIds != null ? promptIds.clone() : null;
    }

    private String text() {
        if (prompt != null && promptFile != null) throw new MogeException("give --prompt or --prompt-file, not both");
        if (promptFile != null) {
            try {
                return Files.readString(promptFile);
            } catch (IOException e) {
                throw new MogeException(promptFile + ": cannot read (" + e.getMessage() + ")");
            }
        }
        return prompt != null ? prompt : COPY_TASK;
    }

    static ObjectNode toJson(LoadedModel lm, int promptTokens, SpecBench.Result r) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("model", lm.name());
        n.put("source", r.source());
        n.put("prompt_tokens", promptTokens);
        n.put("pairs", r.pairs());
        n.put("plain_tokens_per_second", r.plainTokensPerSecond());
        n.put("spec_tokens_per_second", r.specTokensPerSecond());
        n.put("speedup", r.speedup());
        n.put("speedup_median", r.medianSpeedup());
        n.put("speedup_best", r.bestSpeedup());
        n.put("acceptance_rate", r.acceptanceRate());
        n.put("mean_accepted", r.meanAccepted());
        n.put("mean_draft", r.meanDraft());
        n.put("max_draft", r.maxDraft());
        n.put("drafted", r.drafted());
        n.put("accepted", r.accepted());
        n.put("draft_ms", r.draftMs());
        n.put("verify_ms", r.verifyMs());
        n.put("identical", r.identical());
        return n;
    }
}
