package moge.train;

import moge.format.HfCheckpointWriter;
import moge.model.ModelConfig;
import moge.model.TensorNames;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The trainable tensors of a model under their Hugging Face names (the names {@link TensorNames} gives for the
 * config), each with its float32 values and gradient. A tied model has no lm_head tensor: the head reads and
 * updates model.embed_tokens.weight.
 */
public final class Params implements HfCheckpointWriter.Values {
    /** One named tensor: values, gradient of the same size, and whether AdamW decays it. */
    public static final class Tensor {
        public final String name;
        public final long[] shape;
        public final float[] w;
        public final float[] g;
        public final boolean decay;

        Tensor(String name, long[] shape) {
            this.name = name;
            this.shape = shape;
            long n = 1;
            for (long d : shape) n *= d;
            this.w = new float[Math.toIntExact(n)];
            this.g = new float[w.length];
            // Norms, biases and router scales are gains and offsets: decaying them towards zero only hurts.
            this.decay = shape.length == 2 && shape[0] > 1 && !name.endsWith("router_scale");
        }

        public int size() {
            return w.length;
        }
    }

    public final ModelConfig config;
    private final Map<String, Tensor> byName = new LinkedHashMap<>();
    private final List<Tensor> list = new ArrayList<>();

    public Params(ModelConfig config) {
        this.config = config;
        for (var e : TensorNames.hf(config).entrySet()) {
            Tensor t = new Tensor(e.getKey(), e.getValue());
            byName.put(t.name, t);
            list.add(t);
        }
    }

    public Tensor get(String name) {
        Tensor t = byName.get(name);
        if (t == null) throw new IllegalArgumentException("no parameter " + name);
        return t;
    }

    public Tensor find(String name) {
        return byName.get(name);
    }

    public List<Tensor> all() {
        return Collections.unmodifiableList(list);
    }

    public long count() {
        long n = 0;
        for (Tensor t : list) n += t.size();
        return n;
    }

    /**
     * GPT-2 style initialisation: N(0, std) for matrices, residual output projections (o_proj, down_proj)
     * scaled by 1/sqrt(2·layers), zero biases, unit norms and router scales. Each tensor draws from its own
     * generator seeded by (seed, name), so adding a tensor does not change the others.
     */
    public void init(long seed, double std) {
        double residual = std / Math.sqrt(2.0 * config.layers());
        for (Tensor t : list) {
            SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ t.name.hashCode());
            if (t.name.endsWith("norm.weight") || t.name.endsWith("router_scale")) {
                java.util.Arrays.fill(t.w, 1f);
            } else if (t.name.endsWith(".bias")) {
                java.util.Arrays.fill(t.w, 0f);
            } else {
                double s = t.name.endsWith("o_proj.weight") || t.name.endsWith("down_proj.weight") ? residual : std;
                for (int i = 0; i < t.w.length; i++) t.w[i] = (float) (s * r.nextGaussian());
            }
        }
    }

    public void zeroGrad() {
        for (Tensor t : list) java.util.Arrays.fill(t.g, 0f);
    }

    /** sqrt(Σ g²) over all gradients, summed in double in a fixed order. */
    public double gradNorm() {
        double s = 0;
        for (Tensor t : list) {
            double ts = 0;
            for (float v : t.g) ts += (double) v * v;
            s += ts;
        }
        return Math.sqrt(s);
    }

    /** Copies values (not gradients) from another parameter set of the same config. */
    public void copyFrom(Params o) {
        for (Tensor t : list) System.arraycopy(o.get(t.name).w, 0, t.w, 0, t.w.length);
    }

    @Override
    public float[] get(String name, long[] shape) {
        return get(name).w;
    }
}
