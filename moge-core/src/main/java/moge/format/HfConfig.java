package moge.format;

import com.fasterxml.jackson.databind.JsonNode;
import moge.MogeException;
import moge.model.Arch;
import moge.model.ModelConfig;
import moge.model.RouterKind;

import java.nio.file.Path;

/** config.json of an openPangu checkpoint to a {@link ModelConfig}, with the checks of spec/pangu.md section 5. */
public final class HfConfig {
    private HfConfig() {
    }

    public static ModelConfig read(JsonNode c, Path file) {
        String where = file.toString();
        JsonNode archs = c.path("architectures");
        String archName = archs.isArray() && !archs.isEmpty() ? archs.get(0).asText() : c.path("model_type").asText("");
        Arch arch = Arch.fromHf(archName);
        if (arch != Arch.PANGU_PRO_MOE && arch != Arch.PANGU_EMBEDDED) {
            throw new MogeException(where + ": unknown architecture '" + archName
                    + "' (supported: PanguProMoEForCausalLM, PanguEmbeddedForCausalLM)");
        }
        if (arch == Arch.PANGU_PRO_MOE) {
            // openPangu-R-72B (V2) reuses the class name with a different block; recognise it by its keys.
            for (String v2 : new String[]{"n_routed_experts", "qk_rope_dim", "param_sink_number", "param_sink_with_value"}) {
                if (c.has(v2)) {
                    throw new MogeException(where + ": PanguProMoEForCausalLM with key '" + v2
                            + "' is the V2 model (openPangu-R), which moge does not run; only Pangu Pro MoE V1 is supported");
                }
            }
        }
        int hidden = positive(c, "hidden_size", where);
        int layers = positive(c, "num_hidden_layers", where);
        int heads = positive(c, "num_attention_heads", where);
        int kvHeads = c.has("num_key_value_heads") ? positive(c, "num_key_value_heads", where) : heads;
        int vocab = positive(c, "vocab_size", where);
        int headDim = c.hasNonNull("head_dim") ? positive(c, "head_dim", where) : hidden / heads;
        if (!c.hasNonNull("head_dim") && hidden % heads != 0) {
            throw new MogeException(where + ": hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);
        }
        if (heads % kvHeads != 0) {
            throw new MogeException(where + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) throw new MogeException(where + ": head_dim " + headDim + " must be even for RoPE");
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new MogeException(where + ": hidden_act '" + act + "' is not supported (only silu)");
        double theta = c.path("rope_theta").asDouble(10000.0);
        if (!(theta > 0)) throw new MogeException(where + ": rope_theta must be positive");
        ropeIsPlain(c, where);
        float eps = (float) c.path("rms_norm_eps").asDouble(1e-6);
        int maxPos = c.path("max_position_embeddings").asInt(32768);
        boolean tied = c.path("tie_word_embeddings").asBoolean(false);
        boolean[] dense = new boolean[layers];
        JsonNode mlpOnly = c.path("mlp_only_layers");
        if (mlpOnly.isArray()) {
            for (JsonNode n : mlpOnly) {
                int l = n.asInt(-1);
                if (l < 0 || l >= layers) throw new MogeException(where + ": mlp_only_layers names layer " + n + " of " + layers);
                dense[l] = true;
            }
        }
        int intermediate = c.hasNonNull("intermediate_size") ? c.path("intermediate_size").asInt() : 0;
        int experts = 0, k = 0, groups = 0, moeFF = 0, sharedFF = 0;
        if (arch == Arch.PANGU_PRO_MOE) {
            experts = positive(c, "num_experts", where);
            k = positive(c, "num_experts_per_tok", where);
            moeFF = positive(c, "moe_intermediate_size", where);
            sharedFF = c.path("shared_expert_intermediate_size").asInt(0);
            // Upstream derives the group count from top-k (one expert per group); an explicit key wins.
            groups = k;
            for (String key : new String[]{"num_expert_groups", "n_group", "num_groups", "moe_num_groups"}) {
                if (c.hasNonNull(key)) groups = positive(c, key, where);
            }
            if (experts % groups != 0) {
                throw new MogeException(where + ": num_experts " + experts + " is not divisible into " + groups + " equal groups");
            }
            if (k % groups != 0) {
                throw new MogeException(where + ": num_experts_per_tok " + k + " is not a multiple of the group count " + groups);
            }
            if (k / groups > experts / groups) throw new MogeException(where + ": more experts per group selected than exist");
            for (int l = 0; l < layers; l++) {
                if (dense[l] && intermediate <= 0) {
                    throw new MogeException(where + ": mlp_only_layers needs intermediate_size");
                }
            }
        } else if (intermediate <= 0) {
            throw new MogeException(where + ": missing or invalid intermediate_size");
        }
        // openPangu Embedded writes "bias": true; q/k/v/o biases are part of both architectures unless it says false.
        boolean bias = c.path("bias").asBoolean(true);
        return new ModelConfig(arch, vocab, hidden, layers, heads, kvHeads, headDim, intermediate, experts, k, groups,
                moeFF, sharedFF, false, dense, theta, eps, maxPos, tied, bias, bias, false,
                experts > 0 ? RouterKind.MOGE : null);
    }

    private static int positive(JsonNode c, String key, String where) {
        JsonNode n = c.get(key);
        if (n == null || n.isNull()) throw new MogeException(where + ": missing field " + key);
        if (!n.canConvertToInt() || n.asInt() <= 0) throw new MogeException(where + ": field " + key + " must be a positive integer, got " + n);
        return n.asInt();
    }

    /**
     * Refuses position encodings moge does not implement rather than run them as plain RoPE: the model would
     * load and answer, wrongly, and a GGUF converted from it would lose the setting without a word (the GGUF
     * reader refuses rope.scaling the same way). openPangu's configs have no rope_scaling (or null).
     */
    private static void ropeIsPlain(JsonNode c, String where) {
        JsonNode rs = c.path("rope_scaling");
        if (!rs.isMissingNode() && !rs.isNull()) {
            String type = rs.path("rope_type").asText(rs.path("type").asText("?"));
            double factor = rs.path("factor").asDouble(1.0);
            if (!(type.equals("default") || type.equals("linear") && factor == 1.0)) {
                throw new MogeException(where + ": rope_scaling '" + type + "' (factor " + factor + ") is not supported");
            }
        }
        double partial = c.path("partial_rotary_factor").asDouble(1.0);
        if (partial != 1.0) throw new MogeException(where + ": partial_rotary_factor " + partial + " is not supported (only 1)");
    }
}
