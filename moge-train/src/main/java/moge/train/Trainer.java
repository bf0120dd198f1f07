package moge.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.tensor.Parallel;
import moge.tokenizer.HfTokenizerLoader;
import moge.tokenizer.Tokenizer;
import moge.train.data.DataMix;
import moge.train.data.HeldOut;
import moge.train.data.Problem;
import moge.train.vocab.Vocabulary;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One training run from a {@link TrainConfig} into an output directory that ends up a complete openPangu
 * model: tokenizer files, held-out set (eval/heldout.jsonl), per-step data from {@link DataMix}, AdamW with
 * warm-up + cosine, periodic resumable state, snapshots for merging, train_log.jsonl, training.png and the
 * final weights.
 */
public final class Trainer {
    /** Held-out problems per class, all kept out of training; evaluation uses the first eval_per_class. */
    public static final int HELD_OUT_PER_CLASS = 50;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainConfig cfg;
    private final Path out;
    private final int threads;
    private final PrintWriter progress;
    private final boolean json;
    private int stopAfter = Integer.MAX_VALUE;
    private Vocabulary vocab;

    /** Summary of a finished run. */
    public record Result(Path dir, int steps, long tokens, double seconds, double finalLoss, List<Path> snapshots) {
    }

    public Trainer(TrainConfig cfg, Path out, int threads, PrintWriter progress, boolean json) {
        this.cfg = cfg;
        this.out = out;
        this.threads = threads;
        this.progress = progress;
        this.json = json;
    }

    /** Ends the run after this many steps as if it had been killed (state as of the last checkpoint): for tests. */
    Trainer stopAfter(int steps) {
        this.stopAfter = steps;
        return this;
    }

    /** Uses an already built vocabulary (it is deterministic; tests build it once). */
    public Trainer withVocabulary(Vocabulary v) {
        this.vocab = v;
        return this;
    }

    /** The tokenizer every preset shares, learned from the project's data with a fixed seed. */
    public static Vocabulary vocabulary(int size) {
        return Vocabulary.train(Vocabulary.segments(DataMix.tokenizerText()), size);
    }

    public Result run(boolean resume, boolean keepState) throws IOException {
        long t0 = System.nanoTime();
        TrainConfig.Settings s = cfg.settings();
        Files.createDirectories(out);
        Path stateDir = out.resolve(Checkpoints.STATE_DIR);
        if (!resume && Files.exists(stateDir)) {
            throw new MogeException(out + ": holds an unfinished run (" + Checkpoints.STATE_DIR + "/); pass --resume or choose another --out");
        }
        Vocabulary vocab = this.vocab != null && this.vocab.size() == s.vocabSize() ? this.vocab : vocabulary(s.vocabSize());
        vocab.write(out);
        Tokenizer tok = HfTokenizerLoader.load(out);
        List<Problem> heldOut = HeldOut.problems(HELD_OUT_PER_CLASS);
        HeldOut.write(out.resolve("eval/heldout.jsonl"), heldOut);
        DataMix mix = new DataMix(tok, HeldOut.keys(heldOut));

        Params params = new Params(cfg.model());
        params.init(s.seed(), s.initStd());
        AdamW opt = new AdamW(params, s.beta1(), s.beta2(), s.eps(), s.weightDecay());
        ObjectNode resolved = cfg.resolvedJson();
        int start = 0;
        Path logFile = out.resolve("train_log.jsonl");
        List<JsonNode> log = new ArrayList<>();
        if (resume) {
            Checkpoints.State st = Checkpoints.readState(stateDir, params, opt);
            if (!JSON.readTree(st.config().toString()).equals(JSON.readTree(resolved.toString()))) {
                throw new MogeException(stateDir + ": was written by a different configuration (preset, --config, --steps or --seed differ)");
            }
            start = st.nextStep();
            if (Files.isRegularFile(logFile)) {
                for (String line : Files.readAllLines(logFile)) {
                    JsonNode r = JSON.readTree(line);
                    if (r.path("step").asInt() <= start) log.add(r);
                }
            }
            say("resuming at step " + start + " of " + cfg.totalSteps());
        }
        rewriteLog(logFile, log);
        TrainConfig.writeFile(out.resolve("train_config.json"), resolved);

        int maxPos = Math.min(cfg.model().maxPositions(), s.maxSeqLen());
        LrSchedule lr = new LrSchedule(cfg.stages());
        int bos = tok.special().bos(), eos = tok.special().eos();
        Map<String, Object> extras = Map.of("router_aux_loss_coef", s.auxCoef(), "initializer_range", s.initStd());
        List<Path> snapshots = new ArrayList<>();
        long tokens = 0;
        double lastLoss = Double.NaN;
        try (Parallel team = new Parallel(threads, "train")) {
            TrainModel model = new TrainModel(params, team, s.auxCoef(), maxPos);
            Interval iv = new Interval(cfg.model().numExperts(), model.expertGroups());
            int total = cfg.totalSteps();
            for (int step = start; step < total; step++) {
                if (step - start >= stopAfter) return new Result(out, step, tokens, (System.nanoTime() - t0) / 1e9, lastLoss, snapshots);
                StageAt at = stageAt(step);
                var batch = mix.batch(at.stage.data(), s.seed(), step, s.batchTokens(), s.maxSeqLen());
                params.zeroGrad();
                TrainModel.Stats st = model.forward(batch);
                model.backward();
                double rate = lr.lr(step);
                double gnorm = opt.step(team, params, rate, s.gradClip());
                iv.add(st, batch.size(), gnorm);
                tokens += batch.size();
                boolean last = step + 1 == total;
                if ((step + 1) % s.logEvery() == 0 || last || at.local + 1 == at.stage.steps()) {
                    ObjectNode rec = iv.record(step + 1, at.stage.name(), rate, (System.nanoTime() - t0) / 1e9);
                    lastLoss = rec.path("loss").asDouble();
                    log.add(rec);
                    Files.writeString(logFile, JSON.writeValueAsString(rec) + "\n", java.nio.file.StandardOpenOption.APPEND);
                    report(rec, total);
                    iv.reset();
                }
                for (double f : at.stage.snapshotAt()) {
                    if (at.local + 1 == Math.max(1, (int) Math.round(f * at.stage.steps())) && !last) {
                        Path snap = out.resolve("snapshots").resolve(at.stage.name() + "-step" + (step + 1));
                        Checkpoints.writeModel(snap, params, s.dtype(), bos, eos, extras);
                        vocab.write(snap);
                        snapshots.add(snap);
                        say("snapshot " + snap);
                    }
                }
                if ((step + 1) % s.checkpointEvery() == 0 && !last) {
                    Checkpoints.writeState(stateDir, params, opt, step + 1, s.seed(), resolved);
                }
            }
        }
        Checkpoints.writeModel(out, params, s.dtype(), bos, eos, extras);
        TrainingPlot.write(out.resolve("training.png"), log, cfg.model().arch().hfName + " — " + out.getFileName());
        if (keepState) {
            Checkpoints.writeState(stateDir, params, opt, cfg.totalSteps(), s.seed(), resolved);
        } else {
            Checkpoints.deleteTree(stateDir);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Result(out, cfg.totalSteps(), tokens, secs, lastLoss, snapshots);
    }

    private record StageAt(TrainConfig.Stage stage, int local) {
    }

    private StageAt stageAt(int step) {
        int acc = 0;
        for (TrainConfig.Stage st : cfg.stages()) {
            if (step < acc + st.steps()) return new StageAt(st, step - acc);
            acc += st.steps();
        }
        throw new IllegalArgumentException("step " + step + " past the end");
    }

    private void report(ObjectNode rec, int total) {
        if (progress == null) return;
        if (json) {
            progress.println(rec.toString());
        } else {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "step %d/%d %-9s loss %.4f lr %.2e %6.0f tok/s |g| %.2f",
                    rec.path("step").asInt(), total, rec.path("stage").asText(), rec.path("loss").asDouble(),
                    rec.path("lr").asDouble(), rec.path("tokens_per_second").asDouble(), rec.path("grad_norm").asDouble()));
            if (!rec.path("imbalance_score").isNull()) {
                sb.append(String.format(Locale.ROOT, " aux %.4f imbalance %.3f (experts %.3f)", rec.path("aux_loss").asDouble(),
                        rec.path("imbalance_score").asDouble(), rec.path("expert_imbalance").asDouble()));
            }
            sb.append(String.format(Locale.ROOT, " %.0fs", rec.path("elapsed_s").asDouble()));
            progress.println(sb);
        }
        progress.flush();
    }

    private void say(String line) {
        if (progress != null && !json) {
            progress.println(line);
            progress.flush();
        }
    }

    private static void rewriteLog(Path file, List<JsonNode> log) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (JsonNode r : log) sb.append(JSON.writeValueAsString(r)).append('\n');
        Files.writeString(file, sb.toString());
    }

    /**
     * Statistics between two log lines. The imbalance score is the paper's IS = (max − min device load) / tokens
     * with one expert group per device — zero under MoGE by construction; the expert imbalance is the same
     * with one expert per device, which the auxiliary loss pushes down. Both are averaged over MoE layers.
     */
    private static final class Interval {
        final int experts, groups;
        double ce, aux, gnorm;
        int steps;
        long tokens;
        final long[] expertCount;
        double imbalance, expertImbalance;
        long t0 = System.nanoTime();

        Interval(int experts, int groups) {
            this.experts = experts;
            this.groups = groups;
            this.expertCount = new long[Math.max(1, experts)];
        }

        void add(TrainModel.Stats st, int batchTokens, double gn) {
            ce += st.ce();
            aux += st.aux();
            gnorm += gn;
            steps++;
            tokens += batchTokens;
            if (st.expertCounts().length == 0) return;
            double is = 0, eis = 0;
            for (long[] layer : st.expertCounts()) {
                long[] g = new long[groups];
                long emax = Long.MIN_VALUE, emin = Long.MAX_VALUE;
                for (int e = 0; e < experts; e++) {
                    expertCount[e] += layer[e];
                    g[e / (experts / groups)] += layer[e];
                    emax = Math.max(emax, layer[e]);
                    emin = Math.min(emin, layer[e]);
                }
                long gmax = Long.MIN_VALUE, gmin = Long.MAX_VALUE;
                for (long v : g) {
                    gmax = Math.max(gmax, v);
                    gmin = Math.min(gmin, v);
                }
                is += (double) (gmax - gmin) / batchTokens;
                eis += (double) (emax - emin) / batchTokens;
            }
            imbalance += is / st.expertCounts().length;
            expertImbalance += eis / st.expertCounts().length;
        }

        ObjectNode record(int step, String stage, double lr, double elapsed) {
            ObjectNode r = JSON.createObjectNode();
            r.put("step", step);
            r.put("stage", stage);
            r.put("interval", steps);
            r.put("loss", ce / steps);
            r.put("aux_loss", aux / steps);
            r.put("lr", lr);
            r.put("tokens_per_second", tokens / ((System.nanoTime() - t0) / 1e9));
            r.put("grad_norm", gnorm / steps);
            if (experts > 0) {
                r.put("imbalance_score", imbalance / steps);
                r.put("expert_imbalance", expertImbalance / steps);
                long sum = 0;
                for (long v : expertCount) sum += v;
                var gl = r.putArray("group_load");
                int per = experts / groups;
                for (int g = 0; g < groups; g++) {
                    long v = 0;
                    for (int e = g * per; e < (g + 1) * per; e++) v += expertCount[e];
                    gl.add((double) v / sum);
                }
                var el = r.putArray("expert_load");
                for (long v : expertCount) el.add((double) v / sum);
            } else {
                r.putNull("imbalance_score");
            }
            r.put("tokens", tokens);
            r.put("elapsed_s", elapsed);
            return r;
        }

        void reset() {
            ce = aux = gnorm = imbalance = expertImbalance = 0;
            steps = 0;
            tokens = 0;
            java.util.Arrays.fill(expertCount, 0);
            t0 = System.nanoTime();
        }
    }
}
