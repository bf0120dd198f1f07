package moge.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.format.DType;
import moge.format.HfConfig;
import moge.model.ModelConfig;
import moge.train.data.DataMix;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A training run, read from JSON: {@code model} holds config.json keys (architectures, hidden_size, ...;
 * vocab_size comes from the tokenizer), {@code train} the optimisation settings and {@code stages} the data
 * stages in order. Presets live in resources (moge/train/presets/NAME.json); a config file given on top
 * of a preset overrides it key by key.
 */
public record TrainConfig(ObjectNode json, ModelConfig model, Settings settings, List<Stage> stages) {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final List<String> PRESETS = List.of("demo", "draft", "smoke");

    /** Optimisation and bookkeeping settings (the {@code train} object). */
    public record Settings(long seed, int batchTokens, int maxSeqLen, double initStd, double gradClip, double auxCoef,
                           double weightDecay, double beta1, double beta2, double eps, int logEvery, int checkpointEvery,
                           int vocabSize, DType dtype, int evalPerClass, int evalMaxTokens) {
    }

    /**
     * One data stage. A stage that sets {@code lr} starts a new warm-up + cosine schedule that runs over it and
     * the following stages that do not; {@code snapshotAt} lists fractions of the stage after which a full
     * checkpoint is kept (for merging).
     */
    public record Stage(String name, String data, int steps, double lr, int warmup, double minLrRatio, List<Double> snapshotAt) {
    }

    public static ObjectNode preset(String name) {
        if (!PRESETS.contains(name)) throw new MogeException("--preset: unknown preset '" + name + "' (expected one of " + PRESETS + ")");
        try (InputStream in = TrainConfig.class.getResourceAsStream("presets/" + name + ".json")) {
            if (in == null) throw new IllegalStateException("preset " + name + " missing from the jar");
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ObjectNode readFile(Path file) {
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new MogeException(file + ": not a JSON object");
            return (ObjectNode) n;
        } catch (java.io.FileNotFoundException | java.nio.file.NoSuchFileException e) {
            throw new MogeException(file + ": no such file");
        } catch (IOException e) {
            throw new MogeException(file + ": cannot parse JSON (" + moge.format.HfCheckpoint.jsonProblem(e) + ")");
        }
    }

    /** Deep merge: objects merge key by key, anything else in {@code over} replaces. */
    public static ObjectNode merge(ObjectNode base, ObjectNode over) {
        ObjectNode out = base.deepCopy();
        for (Iterator<Map.Entry<String, JsonNode>> it = over.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode cur = out.get(e.getKey());
            if (cur instanceof ObjectNode co && e.getValue() instanceof ObjectNode eo) out.set(e.getKey(), merge(co, eo));
            else out.set(e.getKey(), e.getValue().deepCopy());
        }
        return out;
    }

    /** Validates and resolves a config; {@code where} names it in messages (a file or the preset). */
    public static TrainConfig parse(ObjectNode json, String where) {
        JsonNode t = json.path("train");
        Settings s = new Settings(
                t.path("seed").asLong(1),
                positive(t, "batch_tokens", 4096, where),
                positive(t, "max_seq_len", 512, where),
                t.path("init_std").asDouble(0.02),
                t.path("grad_clip").asDouble(1.0),
                t.path("router_aux_loss_coef").asDouble(0.01),
                t.path("weight_decay").asDouble(0.1),
                t.path("beta1").asDouble(0.9),
                t.path("beta2").asDouble(0.95),
                t.path("eps").asDouble(1e-8),
                positive(t, "log_every", 10, where),
                positive(t, "checkpoint_every", 200, where),
                positive(t, "vocab_size", 768, where),
                dtype(t.path("dtype").asText("bf16"), where),
                t.path("eval_per_class").asInt(40),
                positive(t, "eval_max_tokens", 320, where));
        if (!(s.gradClip() > 0)) throw new MogeException(where + ": train.grad_clip must be positive");
        if (s.auxCoef() < 0) throw new MogeException(where + ": train.router_aux_loss_coef must be >= 0");
        ObjectNode m = json.path("model") instanceof ObjectNode mo ? mo.deepCopy() : null;
        if (m == null) throw new MogeException(where + ": missing object 'model' (config.json keys of the model to train)");
        m.put("vocab_size", s.vocabSize());
        if (!m.has("max_position_embeddings")) m.put("max_position_embeddings", 2048);
        ModelConfig model = HfConfig.read(m, Path.of(where + " (model)"));
        if (model.maxPositions() < s.maxSeqLen()) {
            throw new MogeException(where + ": max_position_embeddings " + model.maxPositions() + " is below train.max_seq_len " + s.maxSeqLen());
        }
        List<Stage> stages = new ArrayList<>();
        JsonNode st = json.path("stages");
        if (!st.isArray() || st.isEmpty()) throw new MogeException(where + ": 'stages' must be a non-empty array");
        for (JsonNode n : st) {
            String name = n.path("name").asText("");
            String data = n.path("data").asText(name);
            if (!DataMix.STAGES.contains(data)) {
                throw new MogeException(where + ": stage '" + name + "' has data '" + data + "' (expected one of " + DataMix.STAGES + ")");
            }
            int steps = n.path("steps").asInt(0);
            if (steps <= 0) throw new MogeException(where + ": stage '" + name + "' needs a positive 'steps'");
            double lr = n.path("lr").asDouble(Double.NaN);
            if (stages.isEmpty() && Double.isNaN(lr)) throw new MogeException(where + ": the first stage must set 'lr'");
            List<Double> snaps = new ArrayList<>();
            for (JsonNode f : n.path("snapshot_at")) snaps.add(f.asDouble());
            stages.add(new Stage(name, data, steps, lr, n.path("warmup").asInt(0), n.path("min_lr_ratio").asDouble(0.1), snaps));
        }
        ObjectNode resolved = json.deepCopy();
        return new TrainConfig(resolved, model, s, stages);
    }

    /** The same run with the total number of steps changed, every stage scaled in proportion (at least 1 each). */
    public TrainConfig withTotalSteps(int total) {
        if (total < stages.size()) {
            throw new MogeException("--steps must be at least " + stages.size() + " (one per stage), got " + total);
        }
        int old = totalSteps();
        // stage ends rounded on the cumulative scale, so the stages add up to exactly `total` (rounding each
        // stage on its own turned --steps 20 into 21)
        int[] n = new int[stages.size()];
        long cum = 0;
        int prevEnd = 0;
        for (int i = 0; i < n.length; i++) {
            cum += stages.get(i).steps();
            int end = (int) Math.round((double) cum * total / old);
            n[i] = end - prevEnd;
            prevEnd = end;
        }
        for (int i = 0; i < n.length; i++) {
            while (n[i] < 1) { // every stage runs at least once; the step comes from the longest
                int longest = 0;
                for (int j = 1; j < n.length; j++) if (n[j] > n[longest]) longest = j;
                n[longest]--;
                n[i]++;
            }
        }
        List<Stage> out = new ArrayList<>();
        for (int i = 0; i < n.length; i++) {
            Stage s = stages.get(i);
            int warm = Math.min(n[i], (int) Math.round((double) s.warmup() * total / old));
            out.add(new Stage(s.name(), s.data(), n[i], s.lr(), warm, s.minLrRatio(), s.snapshotAt()));
        }
        return new TrainConfig(json, model, settings, out);
    }

    public TrainConfig withSeed(long seed) {
        Settings s = settings;
        return new TrainConfig(json, model, new Settings(seed, s.batchTokens(), s.maxSeqLen(), s.initStd(), s.gradClip(), s.auxCoef(),
                s.weightDecay(), s.beta1(), s.beta2(), s.eps(), s.logEvery(), s.checkpointEvery(), s.vocabSize(), s.dtype(),
                s.evalPerClass(), s.evalMaxTokens()), stages);
    }

    public int totalSteps() {
        int n = 0;
        for (Stage s : stages) n += s.steps();
        return n;
    }

    /** The configuration as actually run (seed and stage steps after overrides), for the record. */
    public ObjectNode resolvedJson() {
        ObjectNode out = json.deepCopy();
        ((ObjectNode) out.with("train")).put("seed", settings.seed());
        var arr = out.putArray("stages");
        for (Stage s : stages) {
            ObjectNode n = arr.addObject();
            n.put("name", s.name());
            n.put("data", s.data());
            n.put("steps", s.steps());
            if (!Double.isNaN(s.lr())) n.put("lr", s.lr());
            n.put("warmup", s.warmup());
            n.put("min_lr_ratio", s.minLrRatio());
            var sn = n.putArray("snapshot_at");
            s.snapshotAt().forEach(sn::add);
        }
        return out;
    }

    private static int positive(JsonNode t, String key, int dflt, String where) {
        JsonNode n = t.get(key);
        if (n == null) return dflt;
        if (!n.canConvertToInt() || n.asInt() <= 0) throw new MogeException(where + ": train." + key + " must be a positive integer, got " + n);
        return n.asInt();
    }

    private static DType dtype(String s, String where) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "bf16", "bfloat16" -> DType.BF16;
            case "f32", "float32" -> DType.F32;
            case "f16", "float16" -> DType.F16;
            default -> throw new MogeException(where + ": train.dtype '" + s + "' (expected bf16, f16 or f32)");
        };
    }

    static String write(ObjectNode n) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void writeFile(Path file, ObjectNode n) throws IOException {
        Files.writeString(file, write(n));
    }
}
