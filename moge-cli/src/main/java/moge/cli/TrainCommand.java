package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.train.Checkpoints;
import moge.train.TrainConfig;
import moge.train.Trainer;
import moge.train.eval.EvalReport;
import moge.train.eval.HeldOutEval;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** `moge train`: trains an openPangu-architecture model from scratch on the CPU, then evaluates it on its held-out set. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a PanguProMoE (MoGE) or PanguEmbedded model from scratch on synthetic staged data.")
public final class TrainCommand implements Runnable {
    @Option(names = "--preset", paramLabel = "demo|draft|smoke",
            description = "Built-in configuration: demo (the shipped MoGE model), draft (its speculative draft), smoke (a one-minute test run).")
    String preset;

    @Option(names = "--config", paramLabel = "FILE", description = "JSON configuration (on top of --preset when both are given).")
    Path config;

    @Option(names = "--steps", paramLabel = "N", description = "Total optimiser steps; the stages are scaled in proportion.")
    Integer steps;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (weights and data order).")
    Long seed;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output model directory.")
    Path out;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--json", description = "Print one JSON object per logged step (step, loss, lr, imbalance_score, ...).")
    boolean json;

    @Option(names = "--resume", description = "Continue the unfinished run in --out from its trainer_state/ (with the configuration it was started with).")
    boolean resume;

    @Option(names = "--keep-state", description = "Keep trainer_state/ (optimiser moments) after the run finishes.")
    boolean keepState;

    @Option(names = "--no-eval", description = "Skip the held-out evaluation after training.")
    boolean noEval;

    // read by Main (the README promises --debug on every failing command); declared so that picocli accepts it
    @Option(names = "--debug", description = "Show stack traces of errors.")
    boolean debug;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter o = spec.commandLine().getOut();
        if (threads < 1) throw new MogeException("--threads must be >= 1, got " + threads);
        // checked here: creating the directory over a file failed with a message that was only the path
        if (Files.exists(out) && !Files.isDirectory(out)) throw new MogeException(out + ": is a file; --out names the model directory to write");
        ObjectNode j;
        String where;
        if (preset == null && config == null) {
            if (!resume) throw new MogeException("give --preset demo|draft|smoke or --config FILE");
            // `--out DIR --resume` alone continues with the configuration the run was started with
            Path state = out.resolve(Checkpoints.STATE_DIR);
            if (!Files.isDirectory(state)) {
                throw new MogeException(out + ": no unfinished run to resume (no " + Checkpoints.STATE_DIR
                        + "/); give --preset or --config to start one");
            }
            j = Checkpoints.savedConfig(state);
            where = state.resolve("state.json").toString();
        } else {
            j = preset != null ? TrainConfig.preset(preset) : TrainConfig.readFile(config);
            if (preset != null && config != null) j = TrainConfig.merge(j, TrainConfig.readFile(config));
            where = config != null ? config.toString() : "preset " + preset;
        }
        TrainConfig cfg = TrainConfig.parse(j, where);
        if (steps != null) cfg = cfg.withTotalSteps(steps);
        if (seed != null) cfg = cfg.withSeed(seed);
        if (!json) {
            o.printf(Locale.ROOT, "training %s (%,d parameters, %,d active per token) for %d steps, seed %d, %d threads -> %s%n",
                    cfg.model().arch().hfName, cfg.model().parameterCount(), cfg.model().activeParameterCount(), cfg.totalSteps(),
                    cfg.settings().seed(), threads, out);
            o.flush();
        }
        try {
            Trainer.Result r = new Trainer(cfg, out, threads, o, json).run(resume, keepState);
            List<HeldOutEval.Cell> cells = noEval ? List.of()
                    : EvalReport.evaluate(out, cfg.settings().evalPerClass(), cfg.settings().evalMaxTokens(), threads);
            if (json) {
                ObjectNode done = new ObjectMapper().createObjectNode();
                done.put("done", true);
                done.put("steps", r.steps());
                done.put("tokens", r.tokens());
                done.put("seconds", r.seconds());
                done.put("loss", r.finalLoss());
                var arr = done.putArray("eval");
                for (HeldOutEval.Cell c : cells) {
                    arr.addObject().put("mode", c.mode().name().toLowerCase()).put("class", c.cls()).put("accuracy", c.accuracy())
                            .put("mean_tokens", c.meanTokens());
                }
                o.println(done);
            } else {
                o.printf(Locale.ROOT, "done: %d steps, %,d tokens in %.0f s; model in %s (training.png, train_log.jsonl)%n",
                        r.steps(), r.tokens(), r.seconds(), out);
                for (Path s : r.snapshots()) o.println("snapshot: " + s);
                if (!cells.isEmpty()) {
                    o.println("held-out accuracy (greedy; mean generated tokens in brackets):");
                    o.print(HeldOutEval.markdown(cells));
                }
            }
            o.flush();
        } catch (IOException e) {
            throw MogeException.io(out, e);
        }
    }
}
