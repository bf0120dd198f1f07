package moge.model;

/**
 * Paged key/value cache: per layer one array of {@code blocks * blockSize} slots of {@code kvHeads * headDim}
 * keys (and values), float32 or float16 ({@link KvType}). A sequence owns a table of blocks; slot of
 * position p is {@code table[p / blockSize] * blockSize + p % blockSize}. Within a block the keys go head by
 * head ({@link #offset}): attention reads one KV head's keys, position after position, and so finds a block's
 * keys of that head in one contiguous run instead of a piece in every slot.
 */
public final class KvCache {
    public final int layers;
    public final int kvDim;
    public final int headDim;
    public final int blockSize;
    public final int blocks;
    public final KvType type;
    /** float32 storage (null for F16). */
    final float[][] k;
    final float[][] v;
    /** float16 storage, as {@link Float#floatToFloat16} bits (null for F32). */
    final short[][] k16;
    final short[][] v16;
    public final BlockAllocator allocator;

    public KvCache(ModelConfig c, int blocks, int blockSize) {
        this(c, blocks, blockSize, KvType.F32);
    }

    public KvCache(ModelConfig c, int blocks, int blockSize, KvType type) {
        this.layers = c.layers();
        this.kvDim = c.kvDim();
        this.headDim = c.headDim();
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.type = type;
        long slots = (long) blocks * blockSize * kvDim;
        if (slots > Integer.MAX_VALUE - 16) {
            throw new moge.MogeException("KV cache of " + (long) blocks * blockSize + " positions is too large for one layer array");
        }
        if (type == KvType.F16) {
            k = v = null;
            k16 = new short[layers][(int) slots];
            v16 = new short[layers][(int) slots];
        } else {
            k16 = v16 = null;
            k = new float[layers][(int) slots];
            v = new float[layers][(int) slots];
        }
        allocator = new BlockAllocator(blocks);
    }

    /** A float32 cache for {@code sequences} sequences of up to {@code context} positions each. */
    public static KvCache forContext(ModelConfig c, int context, int sequences, int blockSize) {
        return forContext(c, context, sequences, blockSize, KvType.F32);
    }

    public static KvCache forContext(ModelConfig c, int context, int sequences, int blockSize, KvType type) {
        int perSeq = (context + blockSize - 1) / blockSize;
        return new KvCache(c, Math.max(1, perSeq * sequences), blockSize, type);
    }

    public long bytes() {
        return 2L * layers * blocks * blockSize * kvDim * type.bytes;
    }

    /** The float32 keys of a layer (an F32 cache only). */
    public float[] keys(int layer) {
        return k[layer];
    }

    /** Where the key (or value) of KV head {@code head} at {@code slot} starts in a layer's array. */
    public int offset(int slot, int head) {
        int b = slot / blockSize;
        return ((b * (kvDim / headDim) + head) * blockSize + slot - b * blockSize) * headDim;
    }

    /** Key element i of a layer ({@link #offset} plus the index within the head), as a float whatever the storage. */
    public float key(int layer, int i) {
        return k != null ? k[layer][i] : Float.float16ToFloat(k16[layer][i]);
    }

    public float value(int layer, int i) {
        return v != null ? v[layer][i] : Float.float16ToFloat(v16[layer][i]);
    }

    /** Stores one token's keys and values (kvDim each, from {@code from}) at {@code slot} of a layer. */
    void write(int layer, int slot, float[] kSrc, float[] vSrc, int from) {
        int d = headDim;
        for (int h = 0; h < kvDim / d; h++) {
            int at = offset(slot, h), src = from + h * d;
            if (k != null) {
                System.arraycopy(kSrc, src, k[layer], at, d);
                System.arraycopy(vSrc, src, v[layer], at, d);
            } else {
                short[] K = k16[layer], V = v16[layer];
                for (int i = 0; i < d; i++) {
                    K[at + i] = Float.floatToFloat16(kSrc[src + i]);
                    V[at + i] = Float.floatToFloat16(vSrc[src + i]);
                }
            }
        }
    }

    /** Copies all layers' keys and values of block {@code src} into block {@code dst}. */
    public void copyBlock(int src, int dst) {
        int n = blockSize * kvDim;
        Object[] ks = k != null ? k : k16, vs = v != null ? v : v16;
        for (int l = 0; l < layers; l++) {
            System.arraycopy(ks[l], src * n, ks[l], dst * n, n);
            System.arraycopy(vs[l], src * n, vs[l], dst * n, n);
        }
    }

    public KvSequence newSequence() {
        return new KvSequence(this);
    }
}
