package moge.model;

import moge.MogeException;
import moge.format.TensorData;
import moge.format.TensorSource;
import moge.tensor.Matrix;

import java.util.Arrays;

/** Maps the Hugging Face tensor names of openPangu checkpoints onto {@link Weights}, checking every shape. */
public final class HfWeightLoader {
    private final TensorSource src;
    private final ModelConfig c;

    private HfWeightLoader(TensorSource src, ModelConfig c) {
        this.src = src;
        this.c = c;
    }

    /**
     * @param keepExpert which routed experts to map (null = all); an expert worker maps only its groups.
     */
    public static Weights load(TensorSource src, ModelConfig c, boolean[] keepExpert) {
        return new HfWeightLoader(src, c).load(keepExpert);
    }

    private Weights load(boolean[] keepExpert) {
        int h = c.hidden();
        Matrix embed = matrix("model.embed_tokens.weight", c.vocabSize(), h);
        float[] norm = vector("model.norm.weight", h);
        Matrix head;
        if (c.tiedEmbeddings()) {
            head = embed;
        } else {
            if (src.find("lm_head.weight") == null) {
                throw new MogeException(src.describe() + ": missing tensor lm_head.weight (tie_word_embeddings is false)");
            }
            head = matrix("lm_head.weight", c.vocabSize(), h);
        }
        Weights.Layer[] layers = new Weights.Layer[c.layers()];
        for (int i = 0; i < layers.length; i++) layers[i] = layer(i, keepExpert);
        return new Weights(embed, norm, head, layers);
    }

    private Weights.Layer layer(int i, boolean[] keepExpert) {
        String p = "model.layers." + i + ".";
        int h = c.hidden(), q = c.qDim(), kv = c.kvDim();
        Weights.Layer l = new Weights.Layer();
        l.attnNorm = vector(p + "input_layernorm.weight", h);
        l.ffnNorm = vector(p + "post_attention_layernorm.weight", h);
        l.wq = matrix(p + "self_attn.q_proj.weight", q, h);
        l.wk = matrix(p + "self_attn.k_proj.weight", kv, h);
        l.wv = matrix(p + "self_attn.v_proj.weight", kv, h);
        l.wo = matrix(p + "self_attn.o_proj.weight", h, q);
        if (c.qkvBias()) {
            l.bq = vector(p + "self_attn.q_proj.bias", q);
            l.bk = vector(p + "self_attn.k_proj.bias", kv);
            l.bv = vector(p + "self_attn.v_proj.bias", kv);
        }
        if (c.oBias()) l.bo = vector(p + "self_attn.o_proj.bias", h);
        if (!c.isMoe(i)) {
            int ff = c.intermediate();
            l.gate = matrix(p + "mlp.gate_proj.weight", ff, h);
            l.up = matrix(p + "mlp.up_proj.weight", ff, h);
            l.down = matrix(p + "mlp.down_proj.weight", h, ff);
            return l;
        }
        int n = c.numExperts(), ff = c.moeIntermediate();
        l.router = matrix(p + "mlp.gate.weight", n, h);
        TensorData rs = src.find(p + "mlp.router_scale");
        if (rs == null) throw new MogeException(src.describe() + ": missing tensor " + p + "mlp.router_scale");
        if (rs.type() == null || rs.elements() != n) {
            throw new MogeException(src.describe() + ": tensor " + p + "mlp.router_scale has shape " + rs.shapeString()
                    + ", expected [1, " + n + "]");
        }
        l.routerScale = rs.toFloatArray();
        l.expertGate = new Matrix[n];
        l.expertUp = new Matrix[n];
        l.expertDown = new Matrix[n];
        for (int e = 0; e < n; e++) {
            if (keepExpert != null && !keepExpert[e]) continue;
            String ep = p + "mlp.experts." + e + ".";
            l.expertGate[e] = matrix(ep + "gate_proj.weight", ff, h);
            l.expertUp[e] = matrix(ep + "up_proj.weight", ff, h);
            l.expertDown[e] = matrix(ep + "down_proj.weight", h, ff);
        }
        if (c.sharedIntermediate() > 0) {
            int sf = c.sharedIntermediate();
            l.sharedGate = matrix(p + "mlp.shared_expert.gate_proj.weight", sf, h);
            l.sharedUp = matrix(p + "mlp.shared_expert.up_proj.weight", sf, h);
            l.sharedDown = matrix(p + "mlp.shared_expert.down_proj.weight", h, sf);
        }
        return l;
    }

    private Matrix matrix(String name, int rows, int cols) {
        TensorData t = src.require(name);
        if (t.rank() != 2 || t.shape()[0] != rows || t.shape()[1] != cols) {
            throw new MogeException(t.file() + ": tensor " + name + " has shape " + t.shapeString()
                    + ", expected " + Arrays.toString(new long[]{rows, cols}));
        }
        return Matrix.of(t);
    }

    private float[] vector(String name, int n) {
        TensorData t = src.require(name);
        if (t.elements() != n || t.rank() > 2 || (t.rank() == 2 && t.shape()[0] != 1)) {
            throw new MogeException(t.file() + ": tensor " + name + " has shape " + t.shapeString() + ", expected [" + n + "]");
        }
        return t.toFloatArray();
    }
}
