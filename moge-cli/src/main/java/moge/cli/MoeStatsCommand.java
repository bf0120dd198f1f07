package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.ModelConfig;
import moge.moe.LoadReport;
import moge.moe.LoadStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Expert load of one workload under both routers on the same weights: MoGE (top-k' inside each group) and
 * global top-k with the same k and weights. Prints the imbalance-score distribution of each, optionally as
 * JSON and as a PNG of the load per device over time.
 */
@Command(name = "moe-stats", mixinStandardHelpOptions = true,
        description = "Compare expert load under MoGE and global top-k routing on one workload (imbalance score, load per device, plot).")
public final class MoeStatsCommand implements Runnable {
    @Mixin
    ModelOptions model;

    @Option(names = "--prompts", paramLabel = "FILE", description = "Text file, one prompt per non-empty line (needs the model's tokenizer). Default: synthetic prompts of random token ids.")
    Path prompts;

    @Option(names = "--tokens", paramLabel = "N", description = "Synthetic workload: prompt tokens in all (default 4096).")
    int tokens = 4096;

    @Option(names = "--prompt-len", paramLabel = "N", description = "Synthetic workload: tokens per prompt (default 256).")
    int promptLen = 256;

    @Option(names = "--decode", paramLabel = "N", description = "Greedy tokens generated after each prompt (default 16).")
    int decode = 16;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the synthetic prompts (default 1).")
    long seed = 1;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Write load per device over time, MoGE vs top-k, as a PNG.")
    Path plot;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (decode < 0) throw new MogeException("--decode must be >= 0, got " + decode);
        if (model.router != null) throw new MogeException("moe-stats runs both routers; leave out --router");
        PrintWriter out = spec.commandLine().getOut();
        LoadStats.Snapshot[] snaps = new LoadStats.Snapshot[2];
        String[] routers = {"moge", "topk"};
        String placement = null;
        int promptCount = 0, promptTokens = 0;
        ModelConfig config = null;
        for (int i = 0; i < 2; i++) {
            model.router = routers[i];
            try (ModelHandle h = model.open(1 << 20)) {
                config = h.loaded.config;
                if (!config.hasExperts()) throw new MogeException(h.loaded.path + ": the model has no routed experts");
                List<int[]> work = workload(h);
                promptCount = work.size();
                promptTokens = work.stream().mapToInt(p -> p.length).sum();
                placement = h.placementDescription();
                int ctx = Math.min(model.context(h.loaded), work.stream().mapToInt(p -> p.length).max().orElse(1) + decode + 1);
                Generator g = new Generator(h.model, h.loaded.tokenizer, ctx);
                for (int[] p : work) {
                    g.reset();
                    g.generate(p, GenerateOptions.greedy(decode, new int[0]).withIgnoreEos(true), TokenListener.NONE);
                }
                snaps[i] = h.stats.snapshot();
            } finally {
                model.router = null;
            }
        }
        String title = String.format(Locale.ROOT, "Expert load per device: MoGE vs global top-k (%d experts, k=%d, %d devices)",
                config.numExperts(), config.expertsPerTok(), snaps[0].devices());
        if (plot != null) LoadPlot.write(plot, title, snaps[0], snaps[1]);
        if (json) {
            ObjectNode n = new ObjectMapper().createObjectNode();
            n.put("model", model.modelPath().toString());
            n.put("experts", config.numExperts());
            n.put("k", config.expertsPerTok());
            n.put("groups", config.expertGroups());
            n.put("placement", placement);
            n.put("prompts", promptCount);
            n.put("prompt_tokens", promptTokens);
            n.put("decode_tokens_per_prompt", decode);
            for (int i = 0; i < 2; i++) {
                ObjectNode r = LoadReport.addTo(n.putObject(routers[i]), snaps[i], routers[i]);
                r.put("prefill_pass_is_mean", passMean(snaps[i], true));
                r.put("decode_pass_is_mean", passMean(snaps[i], false));
            }
            if (plot != null) n.put("plot", plot.toString());
            out.println(n.toPrettyString());
            return;
        }
        out.printf("model %s: %d experts in %d groups, k = %d; %s%n", model.modelPath(), config.numExperts(), config.expertGroups(),
                config.expertsPerTok(), placement);
        out.printf("workload: %d prompts, %d prompt tokens in chunks of %d, %d greedy tokens after each%n", promptCount, promptTokens,
                model.batch, decode);
        out.printf("%-6s %10s %8s %8s %8s %8s %11s %9s %9s  %s%n", "router", "dispatches", "IS mean", "IS p50", "IS p90", "IS max",
                "imbalanced", "prefill", "decode", "load share per device");
        for (int i = 0; i < 2; i++) {
            LoadStats.Snapshot s = snaps[i];
            StringBuilder shares = new StringBuilder();
            for (double v : s.deviceShare()) shares.append(String.format(Locale.ROOT, " %.1f%%", 100 * v));
            out.printf(Locale.ROOT, "%-6s %10d %8.3f %8.2f %8.2f %8.3f %10.1f%% %9.3f %9.3f %s%n", routers[i], s.dispatches(), s.imbalanceMean(),
                    s.imbalanceQuantile(0.5), s.imbalanceQuantile(0.9), s.imbalanceMax(), 100 * s.imbalancedFraction(),
                    passMean(s, true), passMean(s, false), shares);
        }
        out.println("IS = (max_i T_i - min_i T_i) / batch tokens per MoE layer; prefill/decode: mean IS of prompt chunks / single-token steps");
        if (plot != null) out.println("plot: " + plot);
    }

    /** Mean IS of prompt-chunk passes (several tokens) or decode passes (one token). */
    private static double passMean(LoadStats.Snapshot s, boolean prefill) {
        double sum = 0;
        int n = 0;
        for (LoadStats.Batch b : s.history()) {
            if ((b.tokens() > 1) != prefill) continue;
            sum += b.isMean();
            n++;
        }
        return n == 0 ? 0 : sum / n;
    }

    private List<int[]> workload(ModelHandle h) {
        List<int[]> out = new ArrayList<>();
        if (prompts != null) {
            if (h.loaded.tokenizer == null) throw new MogeException(h.loaded.path + ": the model has no tokenizer for --prompts");
            try {
                for (String line : Files.readAllLines(prompts)) {
                    if (!line.isBlank()) out.add(h.loaded.tokenizer.encodePrompt(line));
                }
            } catch (IOException e) {
                throw new MogeException(prompts + ": cannot read (" + e.getMessage() + ")");
            }
            if (out.isEmpty()) throw new MogeException(prompts + ": no prompts (one per non-empty line)");
            return out;
        }
        if (tokens < 1 || promptLen < 1) throw new MogeException("--tokens and --prompt-len must be >= 1");
        SplittableRandom r = new SplittableRandom(seed);
        int vocab = h.loaded.config.vocabSize();
        for (int left = tokens; left > 0; left -= promptLen) {
            int[] p = new int[Math.min(promptLen, left)];
            for (int i = 0; i < p.length; i++) p[i] = r.nextInt(vocab);
            out.add(p);
        }
        return out;
    }
}
