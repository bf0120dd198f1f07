package moge.format;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.TensorNames;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Writes a model in the openPangu Hugging Face layout: config.json, generation_config.json and safetensors
 * (sharded with model.safetensors.index.json past {@code shardBytes}). Used by training, by generated
 * benchmark models and by tests; the tokenizer files are the caller's.
 */
public final class HfCheckpointWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Supplies the float32 values of a tensor, row-major. */
    @FunctionalInterface
    public interface Values {
        float[] get(String name, long[] shape);
    }

    private HfCheckpointWriter() {
    }

    public static void write(Path dir, ModelConfig c, Values values, DType dtype, long shardBytes, int bos, int eos,
                             LongConsumer progressBytes) throws IOException {
        write(dir, c, values, dtype, shardBytes, bos, eos, null, progressBytes);
    }

    /**
     * As above; {@code configExtras} are further config.json keys (e.g. the router_aux_loss_coef a model was
     * trained with), written over the defaults.
     */
    public static void write(Path dir, ModelConfig c, Values values, DType dtype, long shardBytes, int bos, int eos,
                             Map<String, ?> configExtras, LongConsumer progressBytes) throws IOException {
        Files.createDirectories(dir);
        writeConfig(dir, c, bos, eos, dtype, configExtras);
        Map<String, long[]> names = TensorNames.hf(c);
        List<Map<String, Safetensors.TensorBytes>> shards = new ArrayList<>();
        Map<String, Safetensors.TensorBytes> cur = new LinkedHashMap<>();
        long curBytes = 0, total = 0;
        for (var e : names.entrySet()) {
            float[] v = values.get(e.getKey(), e.getValue());
            long n = 1;
            for (long d : e.getValue()) n *= d;
            if (v.length != n) throw new IllegalArgumentException(e.getKey() + ": " + v.length + " values for " + n);
            // Norm weights and router scales stay float32 only when the whole checkpoint is; like upstream, all share one dtype.
            byte[] b = encode(v, dtype);
            if (curBytes > 0 && curBytes + b.length > shardBytes) {
                shards.add(cur);
                cur = new LinkedHashMap<>();
                curBytes = 0;
            }
            cur.put(e.getKey(), new Safetensors.TensorBytes(dtype.name(), e.getValue(), b));
            curBytes += b.length;
            total += b.length;
            if (progressBytes != null) progressBytes.accept(total);
        }
        shards.add(cur);
        Map<String, String> meta = Map.of("format", "pt");
        if (shards.size() == 1) {
            Safetensors.write(dir.resolve("model.safetensors"), shards.get(0), meta);
            return;
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String file = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            Safetensors.write(dir.resolve(file), shards.get(i), meta);
            for (String name : shards.get(i).keySet()) map.put(name, file);
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
    }

    public static byte[] encode(float[] v, DType dtype) {
        ByteBuffer bb;
        switch (dtype) {
            case F32 -> {
                bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : v) bb.putFloat(f);
            }
            case BF16 -> {
                bb = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : v) bb.putShort(toBf16(f));
            }
            case F16 -> {
                bb = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : v) bb.putShort(Float.floatToFloat16(f));
            }
            default -> throw new MogeException("safetensors checkpoints hold F32, F16 or BF16, not " + dtype);
        }
        return bb.array();
    }

    /** float32 to bfloat16 with round-to-nearest-even, as PyTorch does. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static void writeConfig(Path dir, ModelConfig c, int bos, int eos) throws IOException {
        writeConfig(dir, c, bos, eos, DType.BF16, null);
    }

    /** config.json and generation_config.json; torch_dtype follows the dtype the weights are stored in. */
    public static void writeConfig(Path dir, ModelConfig c, int bos, int eos, DType dtype, Map<String, ?> extras) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add(c.arch().hfName);
        boolean moe = c.arch() == Arch.PANGU_PRO_MOE;
        n.put("model_type", moe ? "PanguProMoE" : "PanguEmbedded");
        n.put("vocab_size", c.vocabSize());
        n.put("hidden_size", c.hidden());
        n.put("num_hidden_layers", c.layers());
        n.put("num_attention_heads", c.heads());
        n.put("num_key_value_heads", c.kvHeads());
        if (c.headDim() * c.heads() != c.hidden()) n.put("head_dim", c.headDim());
        n.put("hidden_act", "silu");
        n.put("max_position_embeddings", c.maxPositions());
        n.put("rms_norm_eps", c.rmsEps());
        n.put("rope_theta", c.ropeTheta());
        n.put("tie_word_embeddings", c.tiedEmbeddings());
        if (!moe) n.put("bias", c.qkvBias());
        if (moe) {
            n.put("moe_intermediate_size", c.moeIntermediate());
            n.put("shared_expert_intermediate_size", c.sharedIntermediate());
            n.put("num_experts", c.numExperts());
            n.put("num_experts_per_tok", c.expertsPerTok());
            if (c.expertGroups() != c.expertsPerTok()) n.put("num_expert_groups", c.expertGroups());
            n.put("router_aux_loss_coef", 0.001);
            var dense = n.putArray("mlp_only_layers");
            for (int l = 0; l < c.layers(); l++) if (!c.isMoe(l)) dense.add(l);
            if (c.intermediate() > 0) n.put("intermediate_size", c.intermediate());
        } else {
            n.put("intermediate_size", c.intermediate());
        }
        n.put("bos_token_id", bos);
        n.put("eos_token_id", eos);
        n.put("pad_token_id", 0);
        n.put("torch_dtype", switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            default -> "bfloat16";
        });
        if (extras != null) extras.forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), n);
        ObjectNode g = JSON.createObjectNode();
        g.put("bos_token_id", bos);
        g.put("eos_token_id", eos);
        g.put("pad_token_id", 0);
        g.put("do_sample", false);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("generation_config.json").toFile(), g);
    }
}
