package moge.constrain;

import moge.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * The bytes every token adds to the output, once per vocabulary, in a trie: the mask of a matcher state is one
 * walk down the trie that advances the state by each edge's byte and leaves a subtree as soon as the state
 * dies, so tokens sharing a prefix share its work. Ids without bytes (special and control tokens, ids past the
 * tokenizer's vocabulary that a model pads its output to) are never part of constrained text.
 */
public final class TokenVocab {
    private final int size;
    private final byte[][] bytes;
    // trie in arrays: node n's children are childStart[n] .. childStart[n + 1] - 1 (their byte in edge),
    // the tokens ending at node n are ids[idStart[n] .. idStart[n + 1])
    final int[] childStart;
    final byte[] edge;
    final int[] idStart;
    final int[] ids;

    /** @param bytes a token's bytes by id (null or empty: never allowed); size: the model's logits width */
    public TokenVocab(byte[][] bytes, int size) {
        if (bytes.length > size) throw new IllegalArgumentException(bytes.length + " tokens but logits of " + size);
        this.size = size;
        this.bytes = bytes.clone();
        Integer[] order = new Integer[bytes.length];
        int n = 0;
        for (int i = 0; i < bytes.length; i++) if (bytes[i] != null && bytes[i].length > 0) order[n++] = i;
        Integer[] sorted = Arrays.copyOf(order, n);
        Arrays.sort(sorted, (x, y) -> {
            int c = Arrays.compareUnsigned(bytes[x], bytes[y]);
            return c != 0 ? c : Integer.compare(x, y);
        });
        // built breadth-first so that each node's children are contiguous; a node per distinct prefix, so at most
        // one per byte of all tokens (plus the root)
        long total = 1;
        for (int i = 0; i < n; i++) total += bytes[sorted[i]].length;
        int cap = (int) Math.min(Integer.MAX_VALUE - 8, total);
        int[] lo = new int[cap], hi = new int[cap], depth = new int[cap];
        int[] cs = new int[cap + 1], is = new int[cap + 1], idl = new int[n];
        byte[] el = new byte[cap];
        int nodes = 1, nIds = 0;
        hi[0] = n;
        for (int node = 0; node < nodes; node++) {
            int a = lo[node], z = hi[node], d = depth[node];
            is[node] = nIds;
            while (a < z && bytes[sorted[a]].length == d) idl[nIds++] = sorted[a++];
            cs[node] = nodes;
            while (a < z) {
                byte b = bytes[sorted[a]][d];
                int end = a;
                while (end < z && bytes[sorted[end]][d] == b) end++;
                lo[nodes] = a;
                hi[nodes] = end;
                depth[nodes] = d + 1;
                el[nodes++] = b;
                a = end;
            }
        }
        cs[nodes] = nodes;
        is[nodes] = nIds;
        childStart = Arrays.copyOf(cs, nodes + 1);
        idStart = Arrays.copyOf(is, nodes + 1);
        ids = Arrays.copyOf(idl, nIds);
        edge = Arrays.copyOf(el, nodes);
    }

    /** The bytes of every id of {@code tokenizer}, for logits of {@code size} ids. */
    public static TokenVocab of(Tokenizer tokenizer, int size) {
        int n = Math.min(tokenizer.vocabSize(), size);
        byte[][] b = new byte[n][];
        for (int i = 0; i < n; i++) b[i] = tokenizer.textBytes(i);
        return new TokenVocab(b, size);
    }

    /** Ids in the model's logits (the mask's width). */
    public int size() {
        return size;
    }

    /** The bytes of an id, or null when it never appears in constrained text. */
    public byte[] bytes(int id) {
        return id < bytes.length && bytes[id] != null && bytes[id].length > 0 ? bytes[id] : null;
    }

    /** Nodes of the trie (the root included), for measurements. */
    public int trieNodes() {
        return edge.length;
    }
}
