package moge.moe;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The imbalance score of the paper, counted at dispatch: 0 for MoGE by construction, rarely 0 for top-k. */
class LoadStatsTest {
    @TempDir
    Path tmp;

    /** 8 experts in 4 groups (2 per group), two devices owning groups {0,1} and {2,3}. */
    private static ModelConfig tinyConfig() {
        return TestModels.moge(64, 32, 2, 2, 1, 16, 8, 4, 4, 8, 0, null, 0, false, 10000.0);
    }

    @Test
    void countsAndScoreByHand() {
        ModelConfig c = tinyConfig();
        LoadStats s = new LoadStats(Placement.split(c, 2), c.layers(), 10);
        // 3 tokens, k = 2: experts 0,1 | 0,5 | 2,3 -> device 0 gets 0,1,0,2,3 = 5, device 1 gets 5 = 1
        s.routed(0, 3, new int[]{0, 1, 0, 5, 2, 3}, 2);
        // layer 1, all balanced: 0,4 | 1,5 -> 2 and 2
        s.routed(1, 2, new int[]{0, 4, 1, 5}, 2);
        // next forward pass (layer index goes back): 1 token, 6,7 -> 0 and 2
        s.routed(0, 1, new int[]{6, 7}, 2);
        LoadStats.Snapshot snap = s.snapshot();
        assertThat(snap.dispatches()).isEqualTo(3);
        assertThat(snap.batches()).isEqualTo(2);
        assertThat(snap.tokens()).isEqualTo(4);
        assertThat(snap.deviceLoad()).containsExactly(7, 5);
        assertThat(snap.imbalanceMax()).isEqualTo(2.0);
        assertThat(snap.imbalanceMean()).isCloseTo((4.0 / 3 + 0 + 2.0) / 3, within(1e-12));
        assertThat(snap.imbalancedFraction()).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(snap.expertLoad()[0]).containsExactly(2, 1, 1, 1, 0, 1, 1, 1);
        assertThat(snap.expertLoad()[1]).containsExactly(1, 1, 0, 0, 1, 1, 0, 0);
        assertThat(snap.expertTotals()).containsExactly(3, 2, 1, 1, 1, 2, 1, 1);
        assertThat(snap.lastPassExpertLoad()[0]).containsExactly(0, 0, 0, 0, 0, 0, 1, 1);
        assertThat(snap.lastPassExpertLoad()[1]).containsExactly(0, 0, 0, 0, 0, 0, 0, 0);
        assertThat(snap.history()).hasSize(2);
        assertThat(snap.history().get(0).deviceLoad()).containsExactly(7, 3);
        assertThat(snap.history().get(0).layers()).isEqualTo(2);
        assertThat(snap.history().get(0).isMax()).isCloseTo(4.0 / 3, within(1e-12));
        assertThat(snap.history().get(1).deviceLoad()).containsExactly(0, 2);
        assertThat(snap.imbalanceQuantile(0.0)).isEqualTo(0.0);
        assertThat(snap.imbalanceQuantile(1.0)).isEqualTo(2.0);

        ObjectNode n = LoadReport.addTo(new ObjectMapper().createObjectNode(), snap, "topk");
        assertThat(n.get("imbalance_score_max").asDouble()).isEqualTo(2.0);
        assertThat(n.get("imbalance_score_mean").asDouble()).isCloseTo(snap.imbalanceMean(), within(1e-12));
        assertThat(n.get("device_load").size()).isEqualTo(2);
        assertThat(n.get("device_load").get(0).asLong()).isEqualTo(7);
        assertThat(n.get("router").asText()).isEqualTo("topk");
        assertThat(LoadReport.line(snap)).contains("IS mean").contains("58.3%").contains("41.7%");

        s.reset();
        assertThat(s.snapshot().dispatches()).isZero();
        assertThat(s.snapshot().history()).isEmpty();
    }

    @Test
    void historyIsBounded() {
        ModelConfig c = tinyConfig();
        LoadStats s = new LoadStats(Placement.split(c, 4), c.layers(), 3);
        for (int i = 0; i < 10; i++) s.routed(0, 1, new int[]{0, 2}, 2);
        assertThat(s.snapshot().history()).hasSize(3);
        assertThat(s.snapshot().history().get(2).index()).isEqualTo(9);
        assertThat(s.snapshot().batches()).isEqualTo(10);
    }

    /** Runs a few thousand tokens through a generated model and returns the stats over N devices. */
    private LoadStats.Snapshot workload(Path dir, RouterKind router, int devices) {
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = HfConfig.read(ck.config(), dir.resolve("config.json")).withRouter(router);
            Weights w = HfWeightLoader.load(ck, c, null);
            try (Model m = new Model(c, w, 2, 32)) {
                LoadStats stats = new LoadStats(Placement.split(c, devices), c.layers(), 1000);
                LocalDevices.install(m, devices, stats);
                for (int p = 0; p < 8; p++) DeviceRuns.run(m, DeviceRuns.tokens(96, c.vocabSize(), p), 32, 4);
                return stats.snapshot();
            }
        }
    }

    @Test
    void mogeIsBalancedByConstructionTopkIsNot() {
        // 16 experts in 8 groups, k = 8 (one per group), so that both routers pick the same number of experts
        ModelConfig c = TestModels.moge(300, 64, 3, 4, 2, 16, 16, 8, 8, 16, 32, new boolean[]{true, false, false}, 32, false, 10000.0);
        Path dir = TestModels.write(tmp.resolve("m"), c, DType.BF16, 5);
        for (int devices : new int[]{2, 4, 8}) {
            LoadStats.Snapshot moge = workload(dir, RouterKind.MOGE, devices);
            assertThat(moge.dispatches()).isEqualTo(8 * 7 * 2L); // 8 prompts x (3 chunks + 4 steps) x 2 MoE layers
            assertThat(moge.imbalanceMax()).as("MoGE IS over %d devices", devices).isEqualTo(0.0);
            assertThat(moge.imbalanceMean()).isEqualTo(0.0);
            assertThat(moge.imbalancedFraction()).isEqualTo(0.0);
            long total = 8 * (96 + 4) * 8L * 2; // tokens x k x MoE layers
            for (long l : moge.deviceLoad()) assertThat(l).isEqualTo(total / devices);
            for (LoadStats.Batch b : moge.history()) assertThat(b.isMax()).isZero();

            LoadStats.Snapshot topk = workload(dir, RouterKind.TOPK, devices);
            assertThat(topk.dispatches()).isEqualTo(moge.dispatches());
            assertThat(java.util.Arrays.stream(topk.deviceLoad()).sum()).isEqualTo(total);
            // single-token decode steps can split evenly by chance (8 of 16 experts, 4 per device: 38%); prompt chunks never do
            assertThat(topk.imbalancedFraction()).as("top-k dispatches with IS > 0 over %d devices", devices).isGreaterThan(0.6);
            for (LoadStats.Batch b : topk.history()) {
                if (b.tokens() >= 32) assertThat(b.isMean()).as("top-k prompt chunk %d", b.index()).isPositive();
            }
            assertThat(topk.imbalanceMean()).isPositive();
            assertThat(topk.imbalanceMax()).isGreaterThanOrEqualTo(topk.imbalanceMean());
        }
    }
}
