package moge.model;

import moge.format.HfCheckpointWriter;

import java.util.SplittableRandom;

/**
 * Deterministic random weights for generated checkpoints (tests, benchmarks, the untrained default):
 * each tensor draws from its own generator seeded by (seed, name), so one tensor's values do not depend on
 * which other tensors exist. Norm weights are near one and router scales positive, as in trained models.
 */
public final class RandomWeights implements HfCheckpointWriter.Values {
    private final long seed;
    private final float scale;

    public RandomWeights(long seed, float scale) {
        this.seed = seed;
        this.scale = scale;
    }

    @Override
    public float[] get(String name, long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        SplittableRandom r = new SplittableRandom(seed * 1_000_003L + name.hashCode());
        if (name.endsWith("norm.weight")) {
            for (int i = 0; i < v.length; i++) v[i] = (float) (1.0 + 0.1 * r.nextGaussian());
        } else if (name.endsWith("router_scale")) {
            for (int i = 0; i < v.length; i++) v[i] = (float) (0.5 + r.nextDouble());
        } else {
            double fanIn = shape.length > 1 ? shape[shape.length - 1] : 16;
            double s = scale / Math.sqrt(fanIn);
            if (name.contains("embed_tokens")) s = scale;
            for (int i = 0; i < v.length; i++) v[i] = (float) (s * r.nextGaussian());
        }
        return v;
    }
}
