package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.generate.Generator;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.thinking.EvalTask;
import moge.thinking.ThinkingEval;
import moge.thinking.ThinkingMode;
import moge.thinking.ThinkingRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Accuracy, generated tokens and latency of each thinking mode on a labelled set of easy and hard prompts; by
 * default the shipped demo model and its held-out set.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Compare thinking modes: accuracy, mean tokens and latency on a labelled task set (JSON Lines).")
public final class EvalCommand implements Runnable {
    /** Where a model directory may keep its held-out set, in order of preference. */
    static final List<String> DEFAULT_TASK_FILES = List.of("heldout.jsonl", "eval/heldout.jsonl", "eval.jsonl");

    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    ThinkingCliOptions thinking;

    @Option(names = "--tasks", paramLabel = "FILE",
            description = "Task file, one JSON object per line: {\"prompt\", \"answer\", \"difficulty\"} (default: the model's "
                    + "heldout.jsonl).")
    Path tasks;

    @Option(names = "--limit", paramLabel = "N", description = "Only the first N tasks.")
    Integer limit;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "Tokens per answer at most (default 512).")
    int maxTokens = 512;

    @Option(names = "--plot", paramLabel = "FILE", description = "PNG of accuracy against mean tokens (default eval-thinking.png).")
    Path plot = Path.of("eval-thinking.png");

    @Option(names = "--no-plot", description = "Do not write the PNG.")
    boolean noPlot;

    @Option(names = "--json", description = "Print {\"results\": [{\"mode\", \"accuracy\", \"mean_tokens\", \"mean_latency_ms\", ...}]}.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        List<ThinkingMode> modes = modes();
        if (maxTokens < 1) throw new MogeException("--max-tokens must be >= 1, got " + maxTokens);
        if (limit != null && limit < 1) throw new MogeException("--limit must be >= 1, got " + limit);
        Path taskFile = tasks != null ? tasks : defaultTasks(model.modelPath());
        List<EvalTask> set = EvalTask.load(taskFile);
        if (limit != null && limit < set.size()) set = set.subList(0, limit);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<ThinkingEval.ModeResult> results = new ArrayList<>();
        try (ModelHandle h = model.open()) {
            LoadedModel lm = h.loaded;
            Model m = h.model;
            Prompts.requireTokenizer(lm);
            int ctx = model.context(lm);
            Generator g = new Generator(m, lm.tokenizer, ctx);
            ThinkingRunner runner = new ThinkingRunner(g, lm.tokenizer, lm.chatTemplate);
            GenerateOptions o = new GenerateOptions(maxTokens, sampling.params(lm.config.vocabSize()), Prompts.stopIds(lm), false, 0, false, List.of());
            for (ThinkingMode mode : modes) {
                ThinkingEval.ModeResult r = ThinkingEval.run(runner, set, thinking.options(mode), o, null);
                results.add(r);
                err.printf(Locale.ROOT, "eval: %-7s %d/%d correct, %.1f tokens, %.0f ms per prompt%n", mode.label(),
                        r.overall().correct(), r.overall().n(), r.overall().meanTokens(), r.overall().meanLatencyMs());
                err.flush();
            }
            if (!noPlot) AccuracyPlot.write(plot, results, lm.name() + ": thinking modes on " + taskFile.getFileName());
            if (json) {
                out.println(toJson(results, lm, taskFile).toPrettyString());
            } else {
                printTable(out, results);
                if (!noPlot) out.println("plot: " + plot);
            }
        }
    }

    private List<ThinkingMode> modes() {
        if (thinking.think == null || thinking.think.strip().equalsIgnoreCase("all")) return List.of(ThinkingMode.values());
        List<ThinkingMode> out = new ArrayList<>();
        for (String s : thinking.think.split(",")) out.add(ThinkingCliOptions.mode(s));
        return out;
    }

    static Path defaultTasks(Path modelDir) {
        for (String name : DEFAULT_TASK_FILES) {
            Path p = modelDir.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        throw new MogeException(modelDir + ": no held-out task set (" + String.join(", ", DEFAULT_TASK_FILES) + "); pass --tasks FILE");
    }

    static void printTable(PrintWriter out, List<ThinkingEval.ModeResult> results) {
        // columns: the difficulties, then the task classes when they say more than the difficulties
        List<String> classes = new ArrayList<>();
        for (ThinkingEval.ModeResult r : results) for (String c : r.perDifficulty().keySet()) if (!classes.contains(c)) classes.add(c);
        for (ThinkingEval.ModeResult r : results) for (String c : r.perClass().keySet()) if (!classes.contains(c)) classes.add(c);
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-8s %9s %12s %13s", "mode", "accuracy", "mean tokens", "mean latency"));
        for (String c : classes) head.append(String.format(Locale.ROOT, " %10s", trim(c, 10)));
        head.append("  mode used");
        out.println(head);
        for (ThinkingEval.ModeResult r : results) {
            ThinkingEval.Stats s = r.overall();
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-8s %8.1f%% %12.1f %10.0f ms", r.mode().label(),
                    100 * s.accuracy(), s.meanTokens(), s.meanLatencyMs()));
            for (String c : classes) {
                ThinkingEval.Stats cs = r.perDifficulty().containsKey(c) ? r.perDifficulty().get(c) : r.perClass().get(c);
                row.append(cs == null ? String.format(Locale.ROOT, " %10s", "-") : String.format(Locale.ROOT, " %9.1f%%", 100 * cs.accuracy()));
            }
            row.append("  ").append(usedSummary(s.modeUsed()));
            out.println(row);
        }
        out.flush();
    }

    private static String usedSummary(Map<String, Integer> used) {
        StringBuilder sb = new StringBuilder();
        used.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
        return sb.toString();
    }

    private static String trim(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n);
    }

    static ObjectNode toJson(List<ThinkingEval.ModeResult> results, LoadedModel lm, Path taskFile) {
        ObjectNode root = new ObjectMapper().createObjectNode();
        root.put("model", lm.path.toString());
        root.put("tasks", taskFile.toString());
        ArrayNode arr = root.putArray("results");
        for (ThinkingEval.ModeResult r : results) {
            ObjectNode o = arr.addObject();
            o.put("mode", r.mode().label());
            stats(o, r.overall());
            ObjectNode perDifficulty = o.putObject("per_difficulty");
            r.perDifficulty().forEach((k, v) -> stats(perDifficulty.putObject(k), v));
            ObjectNode perClass = o.putObject("per_class");
            r.perClass().forEach((k, v) -> stats(perClass.putObject(k), v));
        }
        return root;
    }

    private static void stats(ObjectNode o, ThinkingEval.Stats s) {
        o.put("n", s.n());
        o.put("correct", s.correct());
        o.put("accuracy", s.accuracy());
        o.put("mean_tokens", s.meanTokens());
        o.put("mean_reasoning_tokens", s.meanReasoningTokens());
        o.put("mean_latency_ms", s.meanLatencyMs());
        ObjectNode used = o.putObject("mode_used");
        s.modeUsed().forEach(used::put);
        o.put("escalations", s.escalations());
    }
}
