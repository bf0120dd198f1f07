package moge.format.gguf;

/**
 * Tensor and metadata names of the GGUF architectures moge reads, in llama.cpp's spelling
 * (src/llama-arch.cpp, gguf-py/gguf/constants.py) plus the two MoGE additions of {@code pangu-pro-moe}.
 * docs/gguf.md lists them all.
 */
public final class GgufNames {
    public static final String TOKEN_EMBD = "token_embd.weight";
    public static final String OUTPUT_NORM = "output_norm.weight";
    public static final String OUTPUT = "output.weight";
    /** Llama 3.1 style RoPE frequency factors; moge refuses files that carry them. */
    public static final String ROPE_FREQS = "rope_freqs.weight";

    public static final String ATTN_NORM = "attn_norm.weight";
    public static final String ATTN_Q = "attn_q.weight";
    public static final String ATTN_K = "attn_k.weight";
    public static final String ATTN_V = "attn_v.weight";
    public static final String ATTN_OUT = "attn_output.weight";
    public static final String ATTN_Q_BIAS = "attn_q.bias";
    public static final String ATTN_K_BIAS = "attn_k.bias";
    public static final String ATTN_V_BIAS = "attn_v.bias";
    public static final String ATTN_OUT_BIAS = "attn_output.bias";
    public static final String ATTN_Q_NORM = "attn_q_norm.weight";
    public static final String ATTN_K_NORM = "attn_k_norm.weight";
    public static final String FFN_NORM = "ffn_norm.weight";
    public static final String FFN_GATE = "ffn_gate.weight";
    public static final String FFN_UP = "ffn_up.weight";
    public static final String FFN_DOWN = "ffn_down.weight";
    /** Router logits, [n_expert, n_embd] (ggml ne {n_embd, n_expert}). */
    public static final String FFN_GATE_INP = "ffn_gate_inp.weight";
    /** MoGE (pangu-pro-moe only): per-expert scale of the routing weight, [n_expert]. */
    public static final String FFN_GATE_INP_SCALE = "ffn_gate_inp_scale.weight";
    /** All experts stacked, [n_expert, n_ff_exp, n_embd] (ggml ne {n_embd, n_ff_exp, n_expert}). */
    public static final String FFN_GATE_EXPS = "ffn_gate_exps.weight";
    public static final String FFN_UP_EXPS = "ffn_up_exps.weight";
    /** [n_expert, n_embd, n_ff_exp] (ggml ne {n_ff_exp, n_embd, n_expert}). */
    public static final String FFN_DOWN_EXPS = "ffn_down_exps.weight";
    public static final String FFN_GATE_SHEXP = "ffn_gate_shexp.weight";
    public static final String FFN_UP_SHEXP = "ffn_up_shexp.weight";
    public static final String FFN_DOWN_SHEXP = "ffn_down_shexp.weight";

    // Metadata keys; {arch}-relative ones are completed by key(arch, suffix).
    public static final String ARCHITECTURE = "general.architecture";
    public static final String ALIGNMENT = "general.alignment";
    public static final String BLOCK_COUNT = "block_count";
    public static final String CONTEXT_LENGTH = "context_length";
    public static final String EMBEDDING_LENGTH = "embedding_length";
    public static final String FEED_FORWARD_LENGTH = "feed_forward_length";
    public static final String HEAD_COUNT = "attention.head_count";
    public static final String HEAD_COUNT_KV = "attention.head_count_kv";
    public static final String KEY_LENGTH = "attention.key_length";
    public static final String VALUE_LENGTH = "attention.value_length";
    public static final String RMS_EPS = "attention.layer_norm_rms_epsilon";
    public static final String ROPE_DIMENSION_COUNT = "rope.dimension_count";
    public static final String ROPE_FREQ_BASE = "rope.freq_base";
    public static final String ROPE_SCALING_TYPE = "rope.scaling.type";
    public static final String ROPE_SCALING_FACTOR = "rope.scaling.factor";
    public static final String VOCAB_SIZE = "vocab_size";
    public static final String EXPERT_COUNT = "expert_count";
    public static final String EXPERT_USED_COUNT = "expert_used_count";
    public static final String EXPERT_FEED_FORWARD_LENGTH = "expert_feed_forward_length";
    public static final String EXPERT_SHARED_FEED_FORWARD_LENGTH = "expert_shared_feed_forward_length";
    public static final String EXPERT_WEIGHTS_NORM = "expert_weights_norm";
    public static final String EXPERT_GATING_FUNC = "expert_gating_func";
    /** MoGE (pangu-pro-moe): number of equal contiguous expert groups, each picking expert_used_count / groups. */
    public static final String EXPERT_GROUP_COUNT = "expert_group_count";

    public static final String TOK_MODEL = "tokenizer.ggml.model";
    public static final String TOK_PRE = "tokenizer.ggml.pre";
    public static final String TOK_TOKENS = "tokenizer.ggml.tokens";
    public static final String TOK_SCORES = "tokenizer.ggml.scores";
    public static final String TOK_TYPES = "tokenizer.ggml.token_type";
    public static final String TOK_MERGES = "tokenizer.ggml.merges";
    public static final String TOK_BOS = "tokenizer.ggml.bos_token_id";
    public static final String TOK_EOS = "tokenizer.ggml.eos_token_id";
    public static final String TOK_UNK = "tokenizer.ggml.unknown_token_id";
    public static final String TOK_PAD = "tokenizer.ggml.padding_token_id";
    public static final String TOK_ADD_BOS = "tokenizer.ggml.add_bos_token";
    public static final String TOK_ADD_EOS = "tokenizer.ggml.add_eos_token";
    public static final String TOK_ADD_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix";
    public static final String CHAT_TEMPLATE = "tokenizer.chat_template";

    private GgufNames() {
    }

    public static String blk(int layer, String tensor) {
        return "blk." + layer + "." + tensor;
    }

    public static String key(String arch, String suffix) {
        return arch + "." + suffix;
    }
}
