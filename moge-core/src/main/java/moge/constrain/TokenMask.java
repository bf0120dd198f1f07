package moge.constrain;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which tokens may come next in a matcher state, as a bit set over the vocabulary: one walk down the
 * {@link TokenVocab} trie, kept in a bounded LRU cache per state, because states repeat (every character of a
 * free string leaves the state as it was; every element of an array starts from the same state). One per
 * schema and vocabulary, shared by the requests that use the schema; thread-safe.
 */
public final class TokenMask {
    /** Bytes of cached masks per schema at most (a 150k vocabulary's mask is about 19 KB). */
    private static final long CACHE_BYTES = 4L << 20;

    private final ByteMatcher matcher;
    private final TokenVocab vocab;
    private final int words;
    private final Map<Object, long[]> cache;
    private long hits, misses, walkNanos;

    public TokenMask(ByteMatcher matcher, TokenVocab vocab) {
        this.matcher = matcher;
        this.vocab = vocab;
        this.words = (vocab.size() + 63) >>> 6;
        int capacity = (int) Math.max(16, CACHE_BYTES / (8L * words));
        this.cache = new LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Object, long[]> e) {
                return size() > capacity;
            }
        };
    }

    public ByteMatcher matcher() {
        return matcher;
    }

    public TokenVocab vocab() {
        return vocab;
    }

    /** The ids whose bytes continue the text of {@code s} (end ids not included); the array must not be changed. */
    public long[] allowed(Object s) {
        synchronized (cache) {
            long[] m = cache.get(s);
            if (m != null) {
                hits++;
                return m;
            }
        }
        long t0 = System.nanoTime();
        long[] m = walk(s);
        long dt = System.nanoTime() - t0;
        synchronized (cache) {
            misses++;
            walkNanos += dt;
            cache.put(s, m);
        }
        return m;
    }

    /** Cache hits, misses, and the time the misses' trie walks took, for measurements. */
    public long[] stats() {
        synchronized (cache) {
            return new long[]{hits, misses, walkNanos};
        }
    }

    private long[] walk(Object start) {
        long[] bits = new long[words];
        int[] nodes = new int[64];
        Object[] states = new Object[64];
        int top = 0;
        nodes[top] = 0;
        states[top++] = start;
        int[] cs = vocab.childStart, is = vocab.idStart, ids = vocab.ids;
        byte[] edge = vocab.edge;
        while (top > 0) {
            int n = nodes[--top];
            Object s = states[top];
            states[top] = null;
            for (int i = is[n]; i < is[n + 1]; i++) bits[ids[i] >>> 6] |= 1L << ids[i];
            for (int c = cs[n]; c < cs[n + 1]; c++) {
                Object next = matcher.next(s, edge[c]);
                if (next == null) continue;
                if (top == nodes.length) {
                    nodes = Arrays.copyOf(nodes, top * 2);
                    states = Arrays.copyOf(states, top * 2);
                }
                nodes[top] = c;
                states[top++] = next;
            }
        }
        return bits;
    }
}
