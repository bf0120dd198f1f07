package moge.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RepackingTest {
    @ParameterizedTest
    @CsvSource({"0, 4", "1, 4", "63, 4", "130, 4", "323, 4", "2087, 1", "100000, 16"})
    void runsCoverEveryUnitOnceAndStartAligned(int n, int align) {
        List<int[]> runs = Collections.synchronizedList(new ArrayList<>());
        Repacking.forRuns(n, align, (from, to) -> runs.add(new int[]{from, to}));
        int[] seen = new int[n];
        for (int[] r : runs) {
            assertThat(r[0] % align).as("run start %d", r[0]).isZero();
            assertThat(r[1]).isGreaterThan(r[0]).isLessThanOrEqualTo(n);
            for (int i = r[0]; i < r[1]; i++) seen[i]++;
        }
        for (int i = 0; i < n; i++) assertThat(seen[i]).as("unit %d", i).isEqualTo(1);
        if (n >= 128 && Runtime.getRuntime().availableProcessors() > 1) assertThat(runs).hasSizeGreaterThan(1);
    }
}
