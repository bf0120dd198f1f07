package moge.server.sched;

import moge.model.BlockAllocator;
import moge.model.KvCache;
import moge.model.KvSequence;

import java.util.Arrays;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reuses the KV blocks of identical prompt prefixes. A FULL block is registered under a 128-bit hash of
 * every token up to its end (chained: the hash of block i mixes block i-1's hash with block i's tokens)
 * and keeps its own tokens for an exact check, so a hit means the same tokens at the same positions and
 * therefore the same keys and values. Registered blocks stay in the cache after their last sequence ends
 * (the allocator keeps them on an LRU list) until the allocator needs them for something else.
 * <p>Past the last whole matching block, a prompt that agrees with a registered block (same prefix before
 * it) on its first tokens gets a private copy of that block and skips those tokens too, as llama.cpp's
 * token-level cache reuse does: a chat template's opening or the tail of an earlier turn rarely fills a
 * block, and recomputing it costs more than copying one block's keys and values.
 * Scheduler thread only.
 */
public final class PrefixCache {
    private static final class Entry {
        final long h1, h2, p1, p2;
        final int block;
        final int[] tokens;

        Entry(long h1, long h2, long p1, long p2, int block, int[] tokens) {
            this.h1 = h1;
            this.h2 = h2;
            this.p1 = p1;
            this.p2 = p2;
            this.block = block;
            this.tokens = tokens;
        }
    }

    private final KvCache cache;
    private final boolean enabled;
    private final Map<Long, Entry> byHash = new HashMap<>();
    /** Registered blocks by their parent's first hash (0 for a first block), for partial matches. */
    private final Map<Long, List<Entry>> byParent = new HashMap<>();
    private final Entry[] byBlock;
    private long lookedUp, hit;

    public PrefixCache(KvCache cache, boolean enabled) {
        this.cache = cache;
        this.enabled = enabled;
        this.byBlock = new Entry[cache.blocks];
        cache.allocator.setEvictionListener(this::evicted);
    }

    public boolean enabled() {
        return enabled;
    }

    public int blockSize() {
        return cache.blockSize;
    }

    /** Registered blocks (in use or idle). */
    public int size() {
        return byHash.size();
    }

    public long lookedUpTokens() {
        return lookedUp;
    }

    public long hitTokens() {
        return hit;
    }

    /**
     * Adopts into the empty {@code seq} the longest run of cached blocks that starts {@code tokens} and
     * covers at most {@code maxTokens} tokens, then copies the block that agrees longest with the tokens after
     * them (if any) into a private block, and sets its length to match; stores the chain hashes of the
     * adopted whole blocks in {@code h1}/{@code h2}. Returns the number of tokens covered (whole blocks:
     * that divided by the block size, rounded down).
     */
    public int attach(int[] tokens, int maxTokens, KvSequence seq, long[] h1, long[] h2) {
        int bs = cache.blockSize;
        int blocks = enabled ? Math.max(0, maxTokens) / bs : 0;
        long p1 = 0, p2 = 0;
        int matched = 0;
        long[] h = new long[2];
        for (int i = 0; i < blocks; i++) {
            hash(p1, p2, tokens, i * bs, bs, h);
            Entry e = byHash.get(h[0]);
            if (e == null || e.h2 != h[1] || e.p1 != p1 || e.p2 != p2 || !Arrays.equals(e.tokens, 0, bs, tokens, i * bs, (i + 1) * bs)) break;
            seq.adoptBlock(e.block);
            h1[i] = p1 = h[0];
            h2[i] = p2 = h[1];
            matched++;
        }
        int covered = matched * bs + (enabled ? copyPartial(tokens, matched, Math.min(bs, maxTokens - matched * bs), p1, p2, seq) : 0);
        seq.setLength(covered);
        lookedUp += maxTokens;
        hit += covered;
        return covered;
    }

    /**
     * Copies the registered block (child of p1/p2) whose first tokens agree longest with the {@code room}
     * tokens after block {@code index} into a new block of {@code seq}; returns how many tokens it covers.
     */
    private int copyPartial(int[] tokens, int index, int room, long p1, long p2, KvSequence seq) {
        if (room <= 0) return 0;
        int bs = cache.blockSize, from = index * bs, best = 0;
        Entry source = null;
        for (Entry e : byParent.getOrDefault(p1, List.of())) {
            if (e.p1 != p1 || e.p2 != p2) continue;
            int n = 0;
            while (n < room && e.tokens[n] == tokens[from + n]) n++;
            if (n > best) {
                best = n;
                source = e;
            }
        }
        if (source == null) return 0;
        BlockAllocator a = cache.allocator;
        int block = source.block;
        a.retain(block); // so that allocating the copy cannot evict the source
        boolean spare = a.free() > 0;
        if (spare) {
            seq.reserve(from + bs);
            cache.copyBlock(block, seq.block(index));
        }
        a.release(block);
        return spare ? best : 0;
    }

    /**
     * Registers the full blocks of {@code seq} from block {@code from} up to the ones its valid length
     * covers; {@code h1}/{@code h2} hold the chain hashes of blocks before {@code from} and receive the
     * new ones. Returns the number of blocks now hashed (the next {@code from}).
     */
    public int register(int[] tokens, KvSequence seq, int from, long[] h1, long[] h2) {
        if (!enabled) return from;
        int bs = cache.blockSize;
        int full = seq.length() / bs;
        BlockAllocator a = cache.allocator;
        long[] h = new long[2];
        for (int i = from; i < full; i++) {
            long p1 = i == 0 ? 0 : h1[i - 1], p2 = i == 0 ? 0 : h2[i - 1];
            hash(p1, p2, tokens, i * bs, bs, h);
            h1[i] = h[0];
            h2[i] = h[1];
            int block = seq.block(i);
            if (a.isCached(block) || byHash.containsKey(h[0])) continue;
            Entry e = new Entry(h[0], h[1], p1, p2, block, Arrays.copyOfRange(tokens, i * bs, (i + 1) * bs));
            byHash.put(h[0], e);
            byParent.computeIfAbsent(p1, k -> new ArrayList<>()).add(e);
            byBlock[block] = e;
            a.markCached(block);
        }
        return Math.max(from, full);
    }

    private void evicted(int block) {
        Entry e = byBlock[block];
        if (e == null) return;
        byBlock[block] = null;
        byHash.remove(e.h1, e);
        List<Entry> siblings = byParent.get(e.p1);
        if (siblings != null && siblings.remove(e) && siblings.isEmpty()) byParent.remove(e.p1);
    }

    /** Two independent 64-bit chains over the parent hash and the block's tokens. */
    static void hash(long p1, long p2, int[] tokens, int off, int n, long[] out) {
        long a = p1 ^ 0x9E3779B97F4A7C15L, b = p2 ^ 0xC2B2AE3D27D4EB4FL;
        for (int i = 0; i < n; i++) {
            long t = tokens[off + i] & 0xFFFFFFFFL;
            a = mix(a + t * 0xD6E8FEB86659FD93L);
            b = mix(b ^ (t + 0x165667B19E3779F9L) * 0x94D049BB133111EBL);
        }
        out[0] = mix(a + n);
        out[1] = mix(b + 31L * n);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
