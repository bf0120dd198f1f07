package moge.model;

import java.util.function.IntConsumer;

/**
 * Fixed-size KV blocks handed out by index, with reference counts so that sequences sharing a prompt
 * prefix can share its blocks. A block marked cached (its content registered by a prefix cache) is not
 * freed when its last reference goes: it waits, still holding its keys and values, on a least-recently-used
 * list and is either taken back by {@link #retain} (a later prompt with the same prefix) or evicted when
 * {@link #allocate} finds no plain free block (the eviction listener then forgets its content).
 * Not thread-safe: the forward pass and the scheduler own it in turn.
 */
public final class BlockAllocator {
    private final int[] refs;
    private final int[] freeStack;
    private int freeTop;

    private final boolean[] cached;
    // idle cached blocks (refs == 0), oldest first: a doubly linked list through block indices
    private final int[] prev, next;
    private int head = -1, tail = -1, idle;
    private IntConsumer evictionListener = b -> {
    };

    public BlockAllocator(int blocks) {
        refs = new int[blocks];
        freeStack = new int[blocks];
        for (int i = 0; i < blocks; i++) freeStack[i] = blocks - 1 - i;
        freeTop = blocks;
        cached = new boolean[blocks];
        prev = new int[blocks];
        next = new int[blocks];
    }

    public int capacity() {
        return refs.length;
    }

    /** Blocks an {@link #allocate} can hand out: plain free ones plus idle cached ones it may evict. */
    public int free() {
        return freeTop + idle;
    }

    /** Blocks referenced by at least one sequence. */
    public int used() {
        return refs.length - freeTop - idle;
    }

    /** Cached blocks no sequence references (kept for prefix reuse, evicted oldest first). */
    public int idleCached() {
        return idle;
    }

    /** Called with a cached block's index just before it is evicted and handed out again. */
    public void setEvictionListener(IntConsumer l) {
        evictionListener = l == null ? b -> {
        } : l;
    }

    /** A fresh block with one reference (evicting the oldest idle cached block if needed), or -1. */
    public int allocate() {
        int b;
        if (freeTop > 0) {
            b = freeStack[--freeTop];
        } else if (idle > 0) {
            b = head;
            unlink(b);
            cached[b] = false;
            evictionListener.accept(b);
        } else {
            return -1;
        }
        refs[b] = 1;
        return b;
    }

    /** Takes a reference; an idle cached block comes back into use with its content intact. */
    public void retain(int block) {
        if (refs[block] == 0 && cached[block]) {
            unlink(block);
        } else if (refs[block] <= 0) {
            throw new IllegalStateException("retain of free block " + block);
        }
        refs[block]++;
    }

    public void release(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("double release of block " + block);
        if (--refs[block] > 0) return;
        if (cached[block]) {
            append(block);
        } else {
            freeStack[freeTop++] = block;
        }
    }

    public int refCount(int block) {
        return refs[block];
    }

    /** Keeps the block's content when its last reference goes (a prefix cache has registered it). */
    public void markCached(int block) {
        if (refs[block] <= 0) throw new IllegalStateException("markCached of unreferenced block " + block);
        cached[block] = true;
    }

    public boolean isCached(int block) {
        return cached[block];
    }

    /** Forgets that the block is cached; an idle one becomes plainly free. */
    public void uncache(int block) {
        if (!cached[block]) return;
        cached[block] = false;
        if (refs[block] == 0) {
            unlink(block);
            freeStack[freeTop++] = block;
        }
    }

    private void append(int b) {
        prev[b] = tail;
        next[b] = -1;
        if (tail >= 0) next[tail] = b; else head = b;
        tail = b;
        idle++;
    }

    private void unlink(int b) {
        if (prev[b] >= 0) next[prev[b]] = next[b]; else head = next[b];
        if (next[b] >= 0) prev[next[b]] = prev[b]; else tail = prev[b];
        idle--;
    }
}
