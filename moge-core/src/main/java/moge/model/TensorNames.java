package moge.model;

import java.util.LinkedHashMap;
import java.util.Map;

/** The Hugging Face tensor names and shapes an openPangu config implies, in checkpoint order. */
public final class TensorNames {
    private TensorNames() {
    }

    public static Map<String, long[]> hf(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long h = c.hidden(), q = c.qDim(), kv = c.kvDim();
        m.put("model.embed_tokens.weight", new long[]{c.vocabSize(), h});
        for (int i = 0; i < c.layers(); i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new long[]{h});
            m.put(p + "self_attn.q_proj.weight", new long[]{q, h});
            if (c.qkvBias()) m.put(p + "self_attn.q_proj.bias", new long[]{q});
            m.put(p + "self_attn.k_proj.weight", new long[]{kv, h});
            if (c.qkvBias()) m.put(p + "self_attn.k_proj.bias", new long[]{kv});
            m.put(p + "self_attn.v_proj.weight", new long[]{kv, h});
            if (c.qkvBias()) m.put(p + "self_attn.v_proj.bias", new long[]{kv});
            m.put(p + "self_attn.o_proj.weight", new long[]{h, q});
            if (c.oBias()) m.put(p + "self_attn.o_proj.bias", new long[]{h});
            m.put(p + "post_attention_layernorm.weight", new long[]{h});
            if (c.isMoe(i)) {
                long ff = c.moeIntermediate();
                m.put(p + "mlp.gate.weight", new long[]{c.numExperts(), h});
                m.put(p + "mlp.router_scale", new long[]{1, c.numExperts()});
                for (int e = 0; e < c.numExperts(); e++) {
                    String ep = p + "mlp.experts." + e + ".";
                    m.put(ep + "gate_proj.weight", new long[]{ff, h});
                    m.put(ep + "up_proj.weight", new long[]{ff, h});
                    m.put(ep + "down_proj.weight", new long[]{h, ff});
                }
                if (c.sharedIntermediate() > 0) {
                    long sf = c.sharedIntermediate();
                    m.put(p + "mlp.shared_expert.gate_proj.weight", new long[]{sf, h});
                    m.put(p + "mlp.shared_expert.up_proj.weight", new long[]{sf, h});
                    m.put(p + "mlp.shared_expert.down_proj.weight", new long[]{h, sf});
                }
            } else {
                long ff = c.intermediate();
                m.put(p + "mlp.gate_proj.weight", new long[]{ff, h});
                m.put(p + "mlp.up_proj.weight", new long[]{ff, h});
                m.put(p + "mlp.down_proj.weight", new long[]{h, ff});
            }
        }
        m.put("model.norm.weight", new long[]{h});
        if (!c.tiedEmbeddings()) m.put("lm_head.weight", new long[]{c.vocabSize(), h});
        return m;
    }
}
