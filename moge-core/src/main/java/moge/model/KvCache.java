package moge.model;

/**
 * Paged key/value cache: per layer one float array of {@code blocks * blockSize} slots of
 * {@code kvHeads * headDim} keys (and values). A sequence owns a table of blocks; slot of position p is
 * {@code table[p / blockSize] * blockSize + p % blockSize}.
 */
public final class KvCache {
    public final int layers;
    public final int kvDim;
    public final int blockSize;
    public final int blocks;
    final float[][] k;
    final float[][] v;
    public final BlockAllocator allocator;

    public KvCache(ModelConfig c, int blocks, int blockSize) {
        this.layers = c.layers();
        this.kvDim = c.kvDim();
        this.blockSize = blockSize;
        this.blocks = blocks;
        long slots = (long) blocks * blockSize * kvDim;
        if (slots > Integer.MAX_VALUE - 16) {
            throw new moge.MogeException("KV cache of " + (long) blocks * blockSize + " positions is too large for one layer array");
        }
        k = new float[layers][(int) slots];
        v = new float[layers][(int) slots];
        allocator = new BlockAllocator(blocks);
    }

    /** A cache for {@code sequences} sequences of up to {@code context} positions each. */
    public static KvCache forContext(ModelConfig c, int context, int sequences, int blockSize) {
        int perSeq = (context + blockSize - 1) / blockSize;
        return new KvCache(c, Math.max(1, perSeq * sequences), blockSize);
    }

    public long bytes() {
        return 2L * layers * k[0].length * 4;
    }

    public float[] keys(int layer) {
        return k[layer];
    }

    public float[] values(int layer) {
        return v[layer];
    }

    /** Copies all layers' keys and values of block {@code src} into block {@code dst}. */
    public void copyBlock(int src, int dst) {
        int n = blockSize * kvDim;
        for (int l = 0; l < layers; l++) {
            System.arraycopy(k[l], src * n, k[l], dst * n, n);
            System.arraycopy(v[l], src * n, v[l], dst * n, n);
        }
    }

    public KvSequence newSequence() {
        return new KvSequence(this);
    }
}
