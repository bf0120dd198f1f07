package moge.server.sched;

import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.TestModels;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class PrefixCacheTest {
    static final int BS = 4;

    static KvCache cache(int blocks) {
        return new KvCache(TestModels.embedded(64, 16, 1, 2, 1, 8, 16, false, 1e4, false), blocks, BS);
    }

    /** A sequence that "computed" the given tokens (the cache content does not matter here). */
    static KvSequence filled(KvCache c, int[] tokens) {
        KvSequence s = c.newSequence();
        s.reserve(tokens.length);
        s.setLength(tokens.length);
        return s;
    }

    static int[] tokens(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(64);
        return t;
    }

    @Test
    void fullBlocksOfAPrefixAreSharedAndAPartlyMatchingBlockIsCopied() {
        KvCache c = cache(16);
        PrefixCache pc = new PrefixCache(c, true);
        int[] a = tokens(1, 10); // two full blocks and a partial one
        KvSequence sa = filled(c, a);
        long[] h1 = new long[4], h2 = new long[4];
        assertThat(pc.register(a, sa, 0, h1, h2)).isEqualTo(2);
        assertThat(pc.size()).isEqualTo(2);

        int[] b = a.clone();
        b[9] = (b[9] + 1) % 64; // differs only in the partial block
        KvSequence sb = c.newSequence();
        long[] g1 = new long[4], g2 = new long[4];
        assertThat(pc.attach(b, b.length - 1, sb, g1, g2)).isEqualTo(8);
        assertThat(sb.block(0)).isEqualTo(sa.block(0));
        assertThat(sb.block(1)).isEqualTo(sa.block(1));
        assertThat(sb.length()).isEqualTo(8);
        assertThat(g1[1]).isEqualTo(h1[1]);
        assertThat(c.allocator.refCount(sa.block(0))).isEqualTo(2);

        // keys and values of a's second block, to see them copied
        float[] k0 = c.keys(0);
        int n = BS * c.kvDim, second = sa.block(1) * n;
        for (int i = 0; i < n; i++) k0[second + i] = 1000 + i;

        int[] d = a.clone();
        d[5] = (d[5] + 1) % 64; // differs in the second block: the first is shared, one more token is copied
        KvSequence sd = c.newSequence();
        assertThat(pc.attach(d, d.length - 1, sd, new long[4], new long[4])).isEqualTo(5);
        assertThat(sd.length()).isEqualTo(5);
        assertThat(sd.block(0)).isEqualTo(sa.block(0));
        assertThat(sd.block(1)).isNotEqualTo(sa.block(1)); // a private copy: d's own keys go there next
        assertThat(c.allocator.refCount(sa.block(1))).isEqualTo(2); // a and b, not d
        assertThat(c.allocator.isCached(sd.block(1))).isFalse();
        for (int i = 0; i < n; i++) assertThat(k0[sd.block(1) * n + i]).isEqualTo(1000 + i);

        int[] e = a.clone();
        e[0] = (e[0] + 1) % 64; // differs at the start: nothing
        assertThat(pc.attach(e, e.length - 1, c.newSequence(), new long[4], new long[4])).isZero();
        assertThat(pc.hitTokens()).isEqualTo(13);
    }

    @Test
    void aPartialCopyNeverEvictsItsSource() {
        KvCache c = cache(1);
        PrefixCache pc = new PrefixCache(c, true);
        int[] a = tokens(7, 4);
        KvSequence sa = filled(c, a);
        pc.register(a, sa, 0, new long[1], new long[1]);
        sa.release(); // the only block: idle, cached
        int[] b = a.clone();
        b[3] = (b[3] + 1) % 64;
        KvSequence sb = c.newSequence();
        // a copy needs a second block; the only candidate for eviction is the source itself
        assertThat(pc.attach(b, b.length, sb, new long[1], new long[1])).isZero();
        assertThat(sb.blockCount()).isZero();
        assertThat(pc.size()).isEqualTo(1);
        assertThat(c.allocator.idleCached()).isEqualTo(1);
        assertThat(pc.attach(a, a.length, c.newSequence(), new long[1], new long[1])).isEqualTo(4);
    }

    @Test
    void theLimitKeepsTheLastPromptTokenOutOfTheMatch() {
        KvCache c = cache(8);
        PrefixCache pc = new PrefixCache(c, true);
        int[] a = tokens(2, 8);
        pc.register(a, filled(c, a), 0, new long[3], new long[3]);
        // the same 8 tokens again: at most 7 may come from the cache, the first block shared and 3 tokens copied
        KvSequence again = c.newSequence();
        assertThat(pc.attach(a, 7, again, new long[3], new long[3])).isEqualTo(7);
        assertThat(again.length()).isEqualTo(7);
    }

    @Test
    void releasedBlocksStayCachedUntilEvictedOldestFirst() {
        KvCache c = cache(6);
        PrefixCache pc = new PrefixCache(c, true);
        int[] a = tokens(3, 8), b = tokens(4, 8);
        KvSequence sa = filled(c, a), sb = filled(c, b);
        pc.register(a, sa, 0, new long[2], new long[2]);
        pc.register(b, sb, 0, new long[2], new long[2]);
        sa.release(); // a's blocks go idle first, then b's
        sb.release();
        assertThat(c.allocator.idleCached()).isEqualTo(4);
        assertThat(c.allocator.free()).isEqualTo(6);

        // needing 4 blocks uses the 2 plain free ones, then evicts a's two (the oldest)
        KvSequence big = c.newSequence();
        big.reserve(16);
        assertThat(pc.size()).isEqualTo(2);
        assertThat(pc.attach(a, 8, c.newSequence(), new long[2], new long[2])).isZero();
        KvSequence again = c.newSequence();
        assertThat(pc.attach(b, 8, again, new long[2], new long[2])).isEqualTo(8);
        assertThat(c.allocator.idleCached()).isZero();
        again.release();
        big.release();
    }

    @Test
    void aDuplicateComputedElsewhereIsNotRegisteredTwice() {
        KvCache c = cache(8);
        PrefixCache pc = new PrefixCache(c, true);
        int[] a = tokens(5, 4);
        KvSequence first = filled(c, a), second = filled(c, a);
        pc.register(a, first, 0, new long[1], new long[1]);
        pc.register(a, second, 0, new long[1], new long[1]);
        assertThat(pc.size()).isEqualTo(1);
        assertThat(c.allocator.isCached(second.block(0))).isFalse();
        second.release();
        assertThat(c.allocator.idleCached()).isZero();
    }

    @Test
    void disabledCacheMatchesNothing() {
        KvCache c = cache(8);
        PrefixCache pc = new PrefixCache(c, false);
        int[] a = tokens(6, 8);
        pc.register(a, filled(c, a), 0, new long[2], new long[2]);
        assertThat(pc.size()).isZero();
        assertThat(pc.attach(a, 7, c.newSequence(), new long[2], new long[2])).isZero();
    }

    /** The chain hash depends on everything before a block, not only on the block's own tokens. */
    @Test
    void sameBlockAfterDifferentPrefixesHashesDifferently() {
        long[] x = new long[2], y = new long[2];
        int[] t = {1, 2, 3, 4};
        PrefixCache.hash(0, 0, t, 0, 4, x);
        PrefixCache.hash(x[0], x[1], t, 0, 4, y);
        assertThat(y).isNotEqualTo(x);
        long[] z = new long[2];
        PrefixCache.hash(0, 0, new int[]{1, 2, 3, 5}, 0, 4, z);
        assertThat(z[0]).isNotEqualTo(x[0]);
        assertThat(z[1]).isNotEqualTo(x[1]);
    }
}
