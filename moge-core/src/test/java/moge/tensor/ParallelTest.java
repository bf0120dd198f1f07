package moge.tensor;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelTest {
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
}
