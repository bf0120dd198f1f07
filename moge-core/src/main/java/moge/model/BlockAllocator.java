package moge.model;

/**
 * Fixed-size KV blocks handed out by index, with reference counts so that sequences sharing a prompt
 * prefix can share its blocks. Not thread-safe: the forward pass and the scheduler own it in turn.
 */
public final class BlockAllocator {
    private final int[] refs;
    private final int[] freeStack;
    private int freeTop;

    public BlockAllocator(int blocks) {
        refs = new int[blocks];
        freeStack = new int[blocks];
        for (int i = 0; i < blocks; i++) freeStack[i] = blocks - 1 - i;
        freeTop = blocks;
    }

    public int capacity() {
        return refs.length;
    }

    public int free() {
        return freeTop;
    }

    public int used() {
        return refs.length - freeTop;
    }

    /** A fresh block with one reference, or -1 when none is free. */
    public int allocate() {
        if (freeTop == 0) return -1;
        int b = freeStack[--freeTop];
        refs[b] = 1;
        return b;
    }

    public void retain(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("retain of free block " + block);
        refs[block]++;
    }

    public void release(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("double release of block " + block);
        if (--refs[block] == 0) freeStack[freeTop++] = block;
    }

    public int refCount(int block) {
        return refs[block];
    }
}
