package moge.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfCheckpointWriter;
import moge.format.HfConfig;
import moge.format.Safetensors;
import moge.format.TensorData;
import moge.model.ModelConfig;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Model and trainer-state files. A model is written in the openPangu Hugging Face layout (config.json,
 * generation_config.json, model.safetensors; the caller adds the tokenizer files). The trainer state beside
 * it (trainer_state/) holds float32 master weights, the AdamW moments and state.json (next step, optimiser
 * step count, seed and the resolved config), enough to resume a run bit for bit.
 */
public final class Checkpoints {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String STATE_DIR = "trainer_state";

    private Checkpoints() {
    }

    public static void writeModel(Path dir, Params p, DType dtype, int bos, int eos, Map<String, ?> extras) throws IOException {
        // weights of an earlier model in the same directory would shadow ours (an index wins over model.safetensors)
        if (Files.isDirectory(dir)) {
            try (var s = Files.list(dir)) {
                for (Path f : s.toList()) {
                    String n = f.getFileName().toString();
                    if (n.equals("model.safetensors.index.json") || n.matches("model-\\d+-of-\\d+\\.safetensors")) Files.delete(f);
                }
            }
        }
        HfCheckpointWriter.write(dir, p.config, p, dtype, Long.MAX_VALUE, bos, eos, extras, null);
    }

    /** Reads the parameters of an HF model directory into float32 (any stored dtype). */
    public static Params readModel(Path dir) {
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = HfConfig.read(ck.config(), dir.resolve("config.json"));
            Params p = new Params(c);
            for (Params.Tensor t : p.all()) {
                TensorData d = ck.require(t.name);
                if (d.elements() != t.size()) {
                    throw new MogeException(d.file() + ": tensor " + t.name + " has shape " + d.shapeString() + ", expected "
                            + java.util.Arrays.toString(t.shape));
                }
                float[] v = d.toFloatArray();
                System.arraycopy(v, 0, t.w, 0, v.length);
            }
            return p;
        }
    }

    /** What a resumed run needs besides the tensors. */
    public record State(int nextStep, long adamSteps, long seed, JsonNode config) {
    }

    public static void writeState(Path dir, Params p, AdamW opt, int nextStep, long seed, ObjectNode config) throws IOException {
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        Map<String, Safetensors.TensorBytes> weights = new LinkedHashMap<>(), moments = new LinkedHashMap<>();
        List<Params.Tensor> all = p.all();
        for (int i = 0; i < all.size(); i++) {
            Params.Tensor t = all.get(i);
            weights.put(t.name, f32(t.shape, t.w));
            moments.put("exp_avg." + t.name, f32(t.shape, opt.m[i]));
            moments.put("exp_avg_sq." + t.name, f32(t.shape, opt.v[i]));
        }
        Safetensors.write(tmp.resolve("params.safetensors"), weights, Map.of("format", "pt"));
        Safetensors.write(tmp.resolve("optimizer.safetensors"), moments, Map.of("format", "pt"));
        ObjectNode s = JSON.createObjectNode();
        s.put("next_step", nextStep);
        s.put("adam_steps", opt.t);
        s.put("seed", seed);
        // the data of step s is drawn from SplittableRandom(seed, stage, s): the seed and next step are the RNG state
        s.put("rng", "SplittableRandom per step from (seed, stage, step)");
        s.set("config", config);
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("state.json").toFile(), s);
        // replace the previous state only once the new one is complete
        deleteTree(dir);
        Files.move(tmp, dir);
    }

    public static State readState(Path dir, Params p, AdamW opt) {
        JsonNode s = stateJson(dir);
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorData> w = Safetensors.open(dir.resolve("params.safetensors"), arena);
            Map<String, TensorData> m = Safetensors.open(dir.resolve("optimizer.safetensors"), arena);
            List<Params.Tensor> all = p.all();
            for (int i = 0; i < all.size(); i++) {
                Params.Tensor t = all.get(i);
                load(w, t.name, t.w, dir);
                load(m, "exp_avg." + t.name, opt.m[i], dir);
                load(m, "exp_avg_sq." + t.name, opt.v[i], dir);
            }
        }
        opt.t = s.path("adam_steps").asLong();
        return new State(s.path("next_step").asInt(), opt.t, s.path("seed").asLong(), s.path("config"));
    }

    /**
     * The configuration an unfinished run was started with (as resolved: seed and stage steps included), so that
     * `moge train --out DIR --resume` needs no other flag.
     */
    public static ObjectNode savedConfig(Path dir) {
        JsonNode c = stateJson(dir).path("config");
        if (!(c instanceof ObjectNode o)) throw new MogeException(dir.resolve("state.json") + ": has no 'config' object");
        return o;
    }

    private static JsonNode stateJson(Path dir) {
        Path sj = dir.resolve("state.json");
        if (!Files.isRegularFile(sj)) throw new MogeException(dir + ": no trainer state to resume from (missing state.json)");
        try {
            return JSON.readTree(sj.toFile());
        } catch (IOException e) {
            throw new MogeException(sj + ": cannot parse (" + moge.format.HfCheckpoint.jsonProblem(e) + ")");
        }
    }

    private static void load(Map<String, TensorData> src, String name, float[] dst, Path dir) {
        TensorData d = src.get(name);
        if (d == null) throw new MogeException(dir + ": trainer state has no tensor " + name);
        if (d.elements() != dst.length) throw new MogeException(dir + ": trainer state tensor " + name + " has the wrong size");
        float[] v = d.toFloatArray();
        System.arraycopy(v, 0, dst, 0, v.length);
    }

    private static Safetensors.TensorBytes f32(long[] shape, float[] v) {
        return new Safetensors.TensorBytes("F32", shape, HfCheckpointWriter.encode(v, DType.F32));
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
