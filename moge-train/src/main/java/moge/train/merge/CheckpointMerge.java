package moge.train.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfCheckpointWriter;
import moge.format.HfConfig;
import moge.format.TensorData;
import moge.model.ModelConfig;
import moge.model.TensorNames;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checkpoint merging by weighted averaging, as in the published openPangu fine-tuning: every tensor of the
 * output is Σ_i w_i·θ_i (weights normalised to sum to one), computed in double. Inputs must be the same model:
 * equal config.json (apart from bookkeeping keys), the same tensors and shapes, and the same tokenizer files;
 * the first difference found is reported by name.
 */
public final class CheckpointMerge {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** config.json keys that describe how a checkpoint was made or stored, not what it computes. */
    private static final Set<String> BOOKKEEPING = Set.of("torch_dtype", "router_aux_loss_coef", "initializer_range",
            "transformers_version", "_name_or_path", "use_cache", "output_router_logits", "auto_map");
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json");

    private CheckpointMerge() {
    }

    /** Normalised weights: equal when {@code given} is null; otherwise one non-negative value per input, not all zero. */
    public static double[] weights(int n, double[] given) {
        if (given == null) {
            double[] w = new double[n];
            Arrays.fill(w, 1.0 / n);
            return w;
        }
        if (given.length != n) throw new MogeException("--weights: " + given.length + " weights for " + n + " checkpoints");
        double sum = 0;
        for (double v : given) {
            if (!(v >= 0) || Double.isInfinite(v)) throw new MogeException("--weights: weights must be finite and >= 0, got " + v);
            sum += v;
        }
        if (sum <= 0) throw new MogeException("--weights: the weights sum to zero");
        double[] w = new double[n];
        for (int i = 0; i < n; i++) w[i] = given[i] / sum;
        return w;
    }

    /** Checks that the inputs can be merged; throws a MogeException naming the first mismatch. */
    public static ModelConfig checkCompatible(List<Path> inputs) {
        if (inputs.size() < 2) throw new MogeException("merge needs at least two checkpoints, got " + inputs.size());
        Path a = inputs.getFirst();
        JsonNode ca = config(a);
        ModelConfig mc = HfConfig.read(ca, a.resolve("config.json"));
        for (Path b : inputs.subList(1, inputs.size())) {
            JsonNode cb = config(b);
            Set<String> keys = new TreeSet<>();
            ca.fieldNames().forEachRemaining(keys::add);
            cb.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                if (BOOKKEEPING.contains(k)) continue;
                JsonNode va = ca.get(k), vb = cb.get(k);
                if (va == null || vb == null || !sameValue(va, vb)) {
                    throw new MogeException("cannot merge " + b + " into " + a + ": config.json key '" + k + "' differs ("
                            + (va == null ? "absent" : va) + " vs " + (vb == null ? "absent" : vb) + ")");
                }
            }
            for (String f : TOKENIZER_FILES) {
                Path fa = a.resolve(f), fb = b.resolve(f);
                boolean ea = Files.isRegularFile(fa), eb = Files.isRegularFile(fb);
                try {
                    if (ea != eb || (ea && !Arrays.equals(Files.readAllBytes(fa), Files.readAllBytes(fb)))) {
                        throw new MogeException("cannot merge " + b + " into " + a + ": " + f + " differs (the models must share one tokenizer)");
                    }
                } catch (IOException e) {
                    throw new MogeException(fb + ": cannot read (" + e.getMessage() + ")");
                }
            }
        }
        return mc;
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.asDouble() == b.asDouble();
        return a.equals(b);
    }

    private static JsonNode config(Path dir) {
        if (!HfCheckpoint.looksLike(dir)) throw new MogeException(dir + ": not a model directory (no config.json)");
        try {
            return JSON.readTree(dir.resolve("config.json").toFile());
        } catch (IOException e) {
            throw new MogeException(dir.resolve("config.json") + ": cannot parse (" + HfCheckpoint.jsonProblem(e) + ")");
        }
    }

    /** Refuses to write the merge over one of its inputs. */
    public static void checkOutput(List<Path> inputs, Path out) {
        for (Path p : inputs) {
            if (p.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
                throw new MogeException("-o " + out + " is one of the inputs; write the merge somewhere else");
            }
        }
    }

    /**
     * Writes the merged model to {@code out} in {@code dtype} (null: the dtype of the first input's tensors)
     * with the first input's tokenizer and generation config.
     */
    public static void merge(List<Path> inputs, double[] weights, Path out, DType dtype) throws IOException {
        ModelConfig c = checkCompatible(inputs);
        double[] w = weights(inputs.size(), weights);
        checkOutput(inputs, out);
        List<HfCheckpoint> cks = new ArrayList<>();
        try {
            for (Path p : inputs) cks.add(HfCheckpoint.open(p));
            Map<String, long[]> names = TensorNames.hf(c);
            for (int i = 0; i < cks.size(); i++) {
                for (var e : names.entrySet()) {
                    TensorData t = cks.get(i).find(e.getKey());
                    if (t == null) throw new MogeException("cannot merge " + inputs.get(i) + ": missing tensor " + e.getKey());
                    if (!Arrays.equals(t.shape(), e.getValue()) && t.elements() != product(e.getValue())) {
                        throw new MogeException("cannot merge " + inputs.get(i) + ": tensor " + e.getKey() + " has shape "
                                + t.shapeString() + ", expected " + Arrays.toString(e.getValue()));
                    }
                }
            }
            DType dt = dtype != null ? dtype : cks.getFirst().require("model.embed_tokens.weight").type();
            JsonNode first = config(inputs.getFirst());
            Map<String, Object> extras = new java.util.LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = first.fields(); it.hasNext(); ) {
                var e = it.next();
                if (BOOKKEEPING.contains(e.getKey()) && !e.getKey().equals("torch_dtype")) extras.put(e.getKey(), e.getValue());
            }
            HfCheckpointWriter.Values merged = (name, shape) -> {
                int n = Math.toIntExact(product(shape));
                double[] acc = new double[n];
                for (int i = 0; i < cks.size(); i++) {
                    TensorData t = cks.get(i).require(name);
                    for (int j = 0; j < n; j++) acc[j] += w[i] * t.getFloat(j);
                }
                float[] f = new float[n];
                for (int j = 0; j < n; j++) f[j] = (float) acc[j];
                return f;
            };
            int bos = first.path("bos_token_id").asInt(1), eos = first.path("eos_token_id").asInt(2);
            HfCheckpointWriter.write(out, c, merged, dt, Long.MAX_VALUE, bos, eos, extras, null);
        } finally {
            for (HfCheckpoint ck : cks) ck.close();
        }
        Path src = inputs.getFirst();
        for (String f : List.of("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")) {
            if (Files.isRegularFile(src.resolve(f))) Files.copy(src.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        Path heldOut = src.resolve("eval/heldout.jsonl");
        if (Files.isRegularFile(heldOut)) {
            Files.createDirectories(out.resolve("eval"));
            Files.copy(heldOut, out.resolve("eval/heldout.jsonl"), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static long product(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }
}
