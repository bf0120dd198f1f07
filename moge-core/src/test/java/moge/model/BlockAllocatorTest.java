package moge.model;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlockAllocatorTest {

    @Test
    void cachedBlocksSurviveReleaseAndAreEvictedOldestFirst() {
        BlockAllocator a = new BlockAllocator(3);
        List<Integer> evicted = new ArrayList<>();
        a.setEvictionListener(evicted::add);
        int x = a.allocate(), y = a.allocate(), z = a.allocate();
        a.markCached(x);
        a.markCached(y);
        a.release(y);
        a.release(x);
        assertThat(a.free()).isEqualTo(2);
        assertThat(a.idleCached()).isEqualTo(2);
        assertThat(a.used()).isEqualTo(1);
        // y went idle first, so it is the first to be evicted
        assertThat(a.allocate()).isEqualTo(y);
        assertThat(evicted).containsExactly(y);
        assertThat(a.isCached(y)).isFalse();
        // x comes back into use with its content: no eviction
        a.retain(x);
        assertThat(a.refCount(x)).isEqualTo(1);
        assertThat(a.idleCached()).isZero();
        assertThat(a.allocate()).isEqualTo(-1);
        a.release(z);
        assertThat(a.allocate()).isEqualTo(z);
        assertThat(evicted).containsExactly(y);
    }

    @Test
    void retainOfAFreeUncachedBlockFails() {
        BlockAllocator a = new BlockAllocator(2);
        int b = a.allocate();
        a.release(b);
        assertThatThrownBy(() -> a.retain(b)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> a.release(b)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void uncacheOfAnIdleBlockMakesItPlainlyFree() {
        BlockAllocator a = new BlockAllocator(1);
        List<Integer> evicted = new ArrayList<>();
        a.setEvictionListener(evicted::add);
        int b = a.allocate();
        a.markCached(b);
        a.release(b);
        a.uncache(b);
        assertThat(a.idleCached()).isZero();
        assertThat(a.allocate()).isEqualTo(b);
        assertThat(evicted).isEmpty();
    }

    /** Random retain/release/cache traffic: counts always add up and no block is handed out twice. */
    @Test
    void randomTrafficKeepsTheBooks() {
        for (int seed = 0; seed < 20; seed++) {
            SplittableRandom r = new SplittableRandom(seed);
            int n = 1 + r.nextInt(12);
            BlockAllocator a = new BlockAllocator(n);
            Set<Integer> evictedLive = new HashSet<>();
            int[] refs = new int[n];
            boolean[] cached = new boolean[n];
            a.setEvictionListener(b -> {
                assertThat(refs[b]).isZero();
                assertThat(cached[b]).isTrue();
                cached[b] = false;
                evictedLive.add(b);
            });
            for (int step = 0; step < 2000; step++) {
                int op = r.nextInt(4);
                int b = r.nextInt(n);
                switch (op) {
                    case 0 -> {
                        int got = a.allocate();
                        int expectFree = 0;
                        if (got >= 0) {
                            assertThat(refs[got]).isZero();
                            refs[got] = 1;
                        } else {
                            for (int i = 0; i < n; i++) if (refs[i] == 0) expectFree++;
                            assertThat(expectFree).isZero();
                        }
                    }
                    case 1 -> {
                        if (refs[b] > 0 || cached[b]) {
                            a.retain(b);
                            refs[b]++;
                        }
                    }
                    case 2 -> {
                        if (refs[b] > 0) {
                            a.release(b);
                            refs[b]--;
                        }
                    }
                    default -> {
                        if (refs[b] > 0) {
                            a.markCached(b);
                            cached[b] = true;
                        }
                    }
                }
                int used = 0, idle = 0;
                for (int i = 0; i < n; i++) {
                    if (refs[i] > 0) used++;
                    else if (cached[i]) idle++;
                    assertThat(a.refCount(i)).isEqualTo(refs[i]);
                }
                assertThat(a.used()).isEqualTo(used);
                assertThat(a.idleCached()).isEqualTo(idle);
                assertThat(a.free()).isEqualTo(n - used);
            }
        }
    }

    @Test
    void truncatingIntoASharedBlockCopiesItFirst() {
        ModelConfig c = TestModels.embedded(32, 16, 2, 2, 1, 8, 24, false, 1e4, false);
        KvCache cache = new KvCache(c, 4, 4);
        KvSequence owner = cache.newSequence();
        owner.reserve(8);
        float[] k0 = cache.keys(0);
        for (int p = 0; p < 8; p++) k0[cache.offset(owner.slot(p), 0)] = 100 + p;
        owner.setLength(8);

        KvSequence other = cache.newSequence();
        other.adoptBlock(owner.block(0));
        other.adoptBlock(owner.block(1));
        other.setLength(8);
        other.truncate(6);
        assertThat(other.block(0)).isEqualTo(owner.block(0));
        assertThat(other.block(1)).isNotEqualTo(owner.block(1));
        assertThat(k0[cache.offset(other.slot(5), 0)]).isEqualTo(105f);
        k0[cache.offset(other.slot(6), 0)] = -1;
        assertThat(k0[cache.offset(owner.slot(6), 0)]).isEqualTo(106f);
        assertThat(cache.allocator.refCount(owner.block(1))).isEqualTo(1);

        other.release();
        owner.release();
        assertThat(cache.allocator.free()).isEqualTo(4);
    }
}
