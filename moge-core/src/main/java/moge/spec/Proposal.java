package moge.spec;

import moge.sample.SamplerParams;

import java.util.Arrays;

/**
 * Proposed tokens and, when the source drew them at random, the distribution q each was drawn from
 * (over the target's vocabulary). Without a distribution a proposal counts as a point mass: the source
 * would have proposed exactly this token.
 */
public final class Proposal {
    private final int vocab;
    private int[] tokens;
    private float[][] q;
    private boolean[] hasQ;
    private int size;
    private SamplerParams sampling;

    public Proposal(int capacity, int vocab) {
        this.vocab = vocab;
        tokens = new int[Math.max(1, capacity)];
        q = new float[tokens.length][];
        hasQ = new boolean[tokens.length];
    }

    /** Target vocabulary size (the length of every q). */
    public int vocab() {
        return vocab;
    }

    /**
     * How a source that can draw at random should do it: the target's sampling settings with a seed of the
     * source's own (a new object for every generation); greedy ones still carry the bias and penalties the
     * most likely token is chosen under. Null: propose the most likely token of the source's own.
     */
    public SamplerParams sampling() {
        return sampling;
    }

    public void setSampling(SamplerParams p) {
        sampling = p;
    }

    public void clear() {
        size = 0;
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return tokens.length;
    }

    public int token(int i) {
        return tokens[i];
    }

    /** The distribution token i was drawn from, or null for a point mass. */
    public float[] q(int i) {
        return hasQ[i] ? q[i] : null;
    }

    public void add(int token) {
        grow();
        tokens[size] = token;
        hasQ[size] = false;
        size++;
    }

    /** Adds a token and returns the array to fill with its distribution (vocab floats, zeroed). */
    public float[] addDrawn(int token) {
        grow();
        tokens[size] = token;
        hasQ[size] = true;
        if (q[size] == null) q[size] = new float[vocab];
        else Arrays.fill(q[size], 0f);
        return q[size++];
    }

    /** Changes the newest token (a source that fills q first and draws from it afterwards). */
    public void replaceLast(int token) {
        tokens[size - 1] = token;
    }

    private void grow() {
        if (size < tokens.length) return;
        int n = tokens.length * 2;
        tokens = Arrays.copyOf(tokens, n);
        q = Arrays.copyOf(q, n);
        hasQ = Arrays.copyOf(hasQ, n);
    }
}
