package moge.model;

import moge.MogeException;

import java.util.Arrays;

/**
 * One sequence's view of the paged cache: its block table and how many positions hold valid keys.
 * Truncating (speculative rollback, a resent chat) frees the blocks past the new end.
 */
public final class KvSequence {
    private final KvCache cache;
    private int[] table = new int[8];
    private int nBlocks;
    private int length;

    KvSequence(KvCache cache) {
        this.cache = cache;
    }

    public KvCache cache() {
        return cache;
    }

    /** Positions 0..length-1 hold keys and values. */
    public int length() {
        return length;
    }

    public int blockCount() {
        return nBlocks;
    }

    public int block(int i) {
        return table[i];
    }

    public int capacity() {
        return nBlocks * cache.blockSize;
    }

    /** Makes room for positions up to {@code positions - 1}; fails clearly when the cache is full. */
    public void reserve(int positions) {
        while (capacity() < positions) {
            int b = cache.allocator.allocate();
            if (b < 0) {
                throw new MogeException("context full: the KV cache has no free block for position " + (positions - 1)
                        + " (" + cache.blocks * cache.blockSize + " positions in all)");
            }
            push(b);
        }
    }

    /** Appends a block that another sequence already filled (prefix sharing); takes a reference. */
    public void adoptBlock(int block) {
        cache.allocator.retain(block);
        push(block);
    }

    private void push(int b) {
        if (nBlocks == table.length) table = Arrays.copyOf(table, nBlocks * 2);
        table[nBlocks++] = b;
    }

    /** Marks positions 0..n-1 valid (after a forward pass wrote them). */
    public void setLength(int n) {
        if (n > capacity()) throw new IllegalStateException("length " + n + " beyond capacity " + capacity());
        length = n;
    }

    /**
     * Drops positions n.. and frees blocks no longer needed. When the next write would land in a block that
     * is shared with another sequence or kept by a prefix cache, the kept part is copied to a private block
     * first (copy on write), so the other users never see this sequence's new keys.
     */
    public void truncate(int n) {
        if (n < 0 || n > length) throw new IllegalArgumentException("truncate to " + n + " of " + length);
        length = n;
        int keep = (n + cache.blockSize - 1) / cache.blockSize;
        while (nBlocks > keep) cache.allocator.release(table[--nBlocks]);
        if (n % cache.blockSize != 0) {
            int last = table[nBlocks - 1];
            BlockAllocator a = cache.allocator;
            if (a.refCount(last) > 1 || a.isCached(last)) {
                int copy = a.allocate();
                if (copy < 0) throw new MogeException("context full: no free KV block to copy a shared block into");
                cache.copyBlock(last, copy);
                a.release(last);
                table[nBlocks - 1] = copy;
            }
        }
    }

    public void release() {
        while (nBlocks > 0) cache.allocator.release(table[--nBlocks]);
        length = 0;
    }

    int slot(int pos) {
        return table[pos / cache.blockSize] * cache.blockSize + pos % cache.blockSize;
    }

    /** Where position pos's key (or value) of KV head {@code head} starts in a layer's array. */
    int offset(int pos, int head) {
        return cache.offset(slot(pos), head);
    }
}
