package moge.model;

/**
 * The tokens of one forward pass: any mix of prompt chunks and decode steps of several sequences. Tokens
 * of one sequence must appear in increasing position order; logits are produced for flagged tokens only.
 */
public final class Batch {
    public final int[] tokens;
    public final int[] positions;
    public final KvSequence[] seqs;
    public final boolean[] wantLogits;
    private int size;
    private int outputs;

    public Batch(int capacity) {
        tokens = new int[capacity];
        positions = new int[capacity];
        seqs = new KvSequence[capacity];
        wantLogits = new boolean[capacity];
    }

    public int capacity() {
        return tokens.length;
    }

    public int size() {
        return size;
    }

    public int outputs() {
        return outputs;
    }

    public Batch clear() {
        size = 0;
        outputs = 0;
        return this;
    }

    public Batch add(int token, int position, KvSequence seq, boolean logits) {
        if (size == tokens.length) throw new IllegalStateException("batch full (" + size + ")");
        tokens[size] = token;
        positions[size] = position;
        seqs[size] = seq;
        wantLogits[size] = logits;
        size++;
        if (logits) outputs++;
        return this;
    }
}
