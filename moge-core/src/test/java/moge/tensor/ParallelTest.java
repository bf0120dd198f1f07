package moge.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelTest {
    @Test
    void everyIndexOnceWithAlignedPieces() {
        SplittableRandom r = new SplittableRandom(5);
        for (int threads = 1; threads <= 3; threads++) {
            try (Parallel p = new Parallel(threads)) {
                for (int i = 0; i < 3000; i++) {
                    int total = 1 + r.nextInt(i % 10 == 0 ? 5000 : 40), align = 1 + r.nextInt(8);
                    AtomicIntegerArray seen = new AtomicIntegerArray(total);
                    boolean[] misaligned = new boolean[1];
                    p.forRange(total, align, (a, b) -> {
                        if (a % align != 0 || (b != total && b % align != 0) || a >= b) misaligned[0] = true;
                        for (int k = a; k < b; k++) seen.incrementAndGet(k);
                    });
                    assertThat(misaligned[0]).isFalse();
                    for (int k = 0; k < total; k++) assertThat(seen.get(k)).as("index %d of %d", k, total).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void piecesShrinkAsTheRangeRunsOut() {
        for (int threads = 1; threads <= 8; threads++) {
            for (int units = 1; units <= 5000; units += units < 100 ? 1 : 37) {
                int[] b = Parallel.pieces(units, threads);
                assertThat(b[0]).isZero();
                assertThat(b[b.length - 1]).isEqualTo(units);
                for (int p = 1; p < b.length; p++) {
                    int size = b[p] - b[p - 1];
                    assertThat(size).as("piece %d of %d units, %d threads", p, units, threads).isPositive();
                    if (p > 1) assertThat(size).isLessThanOrEqualTo(b[p - 1] - b[p - 2]);
                    // each piece is at most 1 / (2 * threads) of what was left, so the last ones are single units
                    assertThat(size).isLessThanOrEqualTo(Math.max(1, (units - b[p - 1]) / (2 * threads)));
                }
                if (units >= 4 * threads) assertThat(b[b.length - 1] - b[b.length - 2]).isEqualTo(1);
                // few enough to keep rows together: about 2 * threads pieces per halving, plus the single units
                assertThat(b.length - 1).isLessThanOrEqualTo(4 * threads * (32 - Integer.numberOfLeadingZeros(units)) + 4 * threads);
            }
        }
    }

    @Test
    void everyItemOnceWithAValidMember() {
        try (Parallel p = new Parallel(3)) {
            for (int n = 0; n < 200; n++) {
                AtomicIntegerArray seen = new AtomicIntegerArray(n + 1);
                boolean[] bad = new boolean[1];
                p.forEach(n, (item, member) -> {
                    if (member < 0 || member >= 3) bad[0] = true;
                    seen.incrementAndGet(item);
                });
                assertThat(bad[0]).isFalse();
                for (int k = 0; k < n; k++) assertThat(seen.get(k)).isEqualTo(1);
            }
        }
    }

    @Test
    void nestedJobsRunInlineAndFailuresPropagate() {
        try (Parallel p = new Parallel(2)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(64);
            p.forEach(8, (item, m) -> p.forRange(8, 1, (a, b) -> {
                for (int k = a; k < b; k++) seen.incrementAndGet(item * 8 + k);
            }));
            for (int k = 0; k < 64; k++) assertThat(seen.get(k)).isEqualTo(1);
            assertThatThrownBy(() -> p.forRange(100, 4, (a, b) -> {
                if (a > 40) throw new IllegalStateException("boom");
            })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
            // the team still works after a failure, also after its workers went to sleep
            int[] sum = new int[1];
            p.forRange(10, 1, (a, b) -> {
                synchronized (sum) {
                    sum[0] += b - a;
                }
            });
            assertThat(sum[0]).isEqualTo(10);
        }
    }

    @Test
    void jobsCompleteWhenWorkersSleep() throws InterruptedException {
        try (Parallel p = new Parallel(2)) {
            for (int i = 0; i < 5; i++) {
                Thread.sleep(5); // longer than the spin: the worker parks
                Thread[] who = new Thread[2];
                p.forEach(2, (item, member) -> {
                    who[item] = Thread.currentThread();
                    try {
                        Thread.sleep(20); // long enough for the woken worker to claim the other item
                    } catch (InterruptedException e) {
                        throw new RuntimeException(e);
                    }
                });
                assertThat(who[0]).isNotNull();
                assertThat(who[1]).isNotNull();
            }
        }
    }

    @Test
    void rangesCoverEveryIndexOnceWithAlignedBounds() {
        try (Parallel p = new Parallel(3)) {
            for (int total : new int[]{1, 2, 3, 4, 5, 11, 64, 1001}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(total);
                p.forRange(total, 4, (a, b) -> {
                    if (b != total) assertThat(b % 4).isZero();
                    for (int i = a; i < b; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < total; i++) assertThat(hits.get(i)).isEqualTo(1);
            }
        }
    }

    @Test
    void itemsRunOnceEachAndNestedJobsRunInline() {
        try (Parallel p = new Parallel(2)) {
            for (int round = 0; round < 200; round++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(37);
                AtomicInteger inner = new AtomicInteger();
                p.forEach(37, (i, member) -> {
                    hits.incrementAndGet(i);
                    p.forRange(10, 1, (a, b) -> inner.addAndGet(b - a));
                });
                for (int i = 0; i < 37; i++) assertThat(hits.get(i)).isEqualTo(1);
                assertThat(inner.get()).isEqualTo(370);
            }
        }
    }

    @Test
    void workerFailureReachesTheCaller() {
        try (Parallel p = new Parallel(2)) {
            assertThatThrownBy(() -> p.forEach(8, (i, m) -> {
                if (i == 5) throw new IllegalStateException("boom");
            })).hasMessage("boom");
            // the team still works afterwards
            AtomicInteger n = new AtomicInteger();
            p.forEach(8, (i, m) -> n.incrementAndGet());
            assertThat(n.get()).isEqualTo(8);
        }
    }

    @Test
    void smallJobsRunOnTheCallingThreadAndLargeOnesAreShared() throws Exception {
        try (Parallel p = new Parallel(2)) {
            java.util.Set<Thread> small = java.util.concurrent.ConcurrentHashMap.newKeySet();
            p.forRange(1024, 4, Parallel.INLINE_COST - 1, (a, b) -> small.add(Thread.currentThread()));
            p.forEach(16, Parallel.INLINE_COST - 1, (i, m) -> small.add(Thread.currentThread()));
            assertThat(small).containsExactly(Thread.currentThread());
            java.util.Set<Thread> large = java.util.concurrent.ConcurrentHashMap.newKeySet();
            for (int round = 0; round < 200 && large.size() < 2; round++) {
                p.forRange(1024, 4, Parallel.INLINE_COST, (a, b) -> {
                    large.add(Thread.currentThread());
                    for (long t = System.nanoTime(); System.nanoTime() - t < 200_000; ) Thread.onSpinWait();
                });
            }
            assertThat(large).hasSize(2);
        }
    }
}
