package moge.moe;

import moge.Fixtures;
import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.model.HfWeightLoader;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.RouterKind;
import moge.model.TestModels;
import moge.model.Weights;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * --devices N must not change a single bit of the output: every device count that divides the groups,
 * both routers, several thread counts, prompts in uneven chunks, against the plain single-team executor.
 */
class DevicesEqualityTest {
    @TempDir
    Path tmp;

    private static ModelConfig read(HfCheckpoint ck, Path dir, RouterKind router) {
        ModelConfig c = HfConfig.read(ck.config(), dir.resolve("config.json"));
        return router == null ? c : c.withRouter(router);
    }

    /**
     * Runs the reference (LocalExperts) and every divisor device count; greedy ids must be identical and the
     * logits bitwise equal. Until the kernels are compiled by C2 the Vector API runs its Java fallback, which
     * rounds differently in the last bit (in any configuration, one device included), so a run that differs
     * is repeated: a real difference (another summation order) would never come out bitwise equal.
     */
    static void assertSameForAllDeviceCounts(Path dir, RouterKind router, int threads, int chunk, int[] prompt, int steps) {
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = read(ck, dir, router);
            Weights w = HfWeightLoader.load(ck, c, null);
            int groups = c.expertGroups();
            for (int n = 1; n <= groups; n++) {
                if (groups % n != 0) continue;
                String where = dir.getFileName() + " router=" + c.router() + " threads=" + threads + " chunk=" + chunk + " devices=" + n;
                int diff = -1;
                // reference and candidate back to back, so that both run the same compiled kernels
                for (int attempt = 0; attempt < 6 && diff != 0; attempt++) {
                    DeviceRuns.Run ref;
                    try (Model m = new Model(c, w, threads, chunk)) {
                        ref = DeviceRuns.run(m, prompt, chunk, steps);
                    }
                    try (Model m = new Model(c, w, threads, chunk)) {
                        LoadStats stats = new LoadStats(Placement.split(c, n), c.layers(), 0);
                        Dispatcher d = LocalDevices.install(m, n, stats);
                        assertThat(d.placement().devices()).isEqualTo(n);
                        DeviceRuns.Run got = DeviceRuns.run(m, prompt, chunk, steps);
                        assertThat(got.greedy()).as(where).containsExactly(ref.greedy());
                        assertThat(maxAbsDiff(got.logits(), ref.logits())).as(where).isLessThan(1e-4);
                        assertThat(stats.snapshot().dispatches()).as(where).isPositive();
                        diff = differing(got.logits(), ref.logits());
                    }
                }
                assertThat(diff).as(where + ": logits differing bitwise from the reference").isZero();
            }
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** How many floats differ bit for bit. */
    static int differing(float[] a, float[] b) {
        if (a.length != b.length) return Math.max(a.length, b.length);
        int n = 0;
        for (int i = 0; i < a.length; i++) if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) n++;
        return n;
    }

    @ParameterizedTest(name = "fixture router={0} threads={1} chunk={2}")
    @CsvSource({"MOGE,1,7", "MOGE,2,5", "MOGE,2,64", "TOPK,2,5", "TOPK,1,64"})
    void fixtureModelIdenticalForAnyDeviceCount(RouterKind router, int threads, int chunk) {
        int[] prompt = DeviceRuns.tokens(29, 1280, 7);
        assertSameForAllDeviceCounts(Fixtures.model("pangu-moe-tiny"), router, threads, chunk, prompt, 8);
    }

    @ParameterizedTest(name = "generated groups={0} experts={1} k={2} threads={3} dtype={4}")
    @CsvSource({
            "8,16,8,2,BF16",
            "6,12,6,2,F32",
            "6,24,12,1,BF16",
            "3,9,3,2,F16",
            "4,8,8,2,BF16"})
    void generatedMogeIdenticalForAnyDeviceCount(int groups, int experts, int k, int threads, DType dtype) {
        // awkward sizes: hidden not a multiple of the vector width, a dense first layer, k' = k / groups > 1 in some
        ModelConfig c = TestModels.moge(211, 72, 3, 4, 2, 18, experts, k, groups, 20, 36,
                new boolean[]{true, false, false}, 40, false, 10000.0);
        Path dir = TestModels.write(tmp.resolve("g" + groups + "e" + experts + dtype), c, dtype, 11);
        int[] prompt = DeviceRuns.tokens(19, 211, groups);
        assertSameForAllDeviceCounts(dir, null, threads, 6, prompt, 6);
        assertSameForAllDeviceCounts(dir, RouterKind.TOPK, threads, 19, prompt, 4);
    }

    @Test
    void deviceCountMustDivideGroups() {
        Path dir = Fixtures.model("pangu-moe-tiny");
        try (HfCheckpoint ck = HfCheckpoint.open(dir); Model m = new Model(read(ck, dir, null), HfWeightLoader.load(ck, read(ck, dir, null), null), 1, 4)) {
            assertThatThrownBy(() -> LocalDevices.install(m, 3, null))
                    .isInstanceOf(MogeException.class)
                    .hasMessageContaining("--devices 3")
                    .hasMessageContaining("4 expert groups")
                    .hasMessageContaining("1, 2, 4");
            assertThatThrownBy(() -> LocalDevices.install(m, 0, null)).isInstanceOf(MogeException.class).hasMessageContaining(">= 1");
            assertThatThrownBy(() -> LocalDevices.install(m, 8, null)).hasMessageContaining("does not divide the 4 expert groups");
        }
    }

    @Test
    void denseModelRefusesDevices() {
        Path dir = Fixtures.model("pangu-embedded-tiny");
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = read(ck, dir, null);
            assertThat(Placement.split(c, 1)).isNull();
            assertThatThrownBy(() -> Placement.split(c, 2)).isInstanceOf(MogeException.class).hasMessageContaining("no routed experts");
        }
    }
}
