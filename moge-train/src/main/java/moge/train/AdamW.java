package moge.train;

import moge.tensor.Parallel;

import java.util.List;

/**
 * AdamW with bias correction and decoupled weight decay (matrices only: {@link Params.Tensor#decay}), after
 * clipping the global gradient norm. The moments are float32, one pair per parameter tensor.
 */
public final class AdamW {
    private final List<Params.Tensor> tensors;
    final float[][] m, v;
    private final double beta1, beta2, eps, weightDecay;
    long t;

    public AdamW(Params p, double beta1, double beta2, double eps, double weightDecay) {
        this.tensors = p.all();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        m = new float[tensors.size()][];
        v = new float[tensors.size()][];
        for (int i = 0; i < tensors.size(); i++) {
            m[i] = new float[tensors.get(i).size()];
            v[i] = new float[tensors.get(i).size()];
        }
    }

    /** Clips gradients to {@code clip} (global L2 norm) and applies one update; returns the norm before clipping. */
    public double step(Parallel team, Params p, double lr, double clip) {
        double norm = p.gradNorm();
        float scale = norm > clip ? (float) (clip / norm) : 1f;
        t++;
        double bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
        float b1 = (float) beta1, b2 = (float) beta2;
        float stepSize = (float) (lr / bc1);
        float invBc2 = (float) (1 / bc2);
        float e = (float) eps;
        // one hand-off for the whole update: tensors are dealt out to team members, each updated by one thread
        team.forEach(tensors.size(), (i, member) -> {
            Params.Tensor tn = tensors.get(i);
            float[] w = tn.w, g = tn.g, mi = m[i], vi = v[i];
            float decay = tn.decay ? (float) (1 - lr * weightDecay) : 1f;
            for (int j = 0; j < w.length; j++) {
                float gj = g[j] * scale;
                float mj = b1 * mi[j] + (1 - b1) * gj;
                float vj = b2 * vi[j] + (1 - b2) * gj * gj;
                mi[j] = mj;
                vi[j] = vj;
                w[j] = w[j] * decay - stepSize * mj / ((float) Math.sqrt(vj * invBc2) + e);
            }
        });
        return norm;
    }

    public long steps() {
        return t;
    }
}
