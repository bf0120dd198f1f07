package moge.moe;

import moge.Fixtures;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.model.HfWeightLoader;
import moge.model.Model;
import moge.model.ModelConfig;
import moge.model.Weights;
import moge.tensor.Parallel;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The start/finish protocol with devices that compute elsewhere (as remote workers do), and their failures. */
class DispatcherTest {
    private static final Path DIR = Fixtures.model("pangu-moe-tiny");

    /** Computes on another thread between start and finish, like a remote worker; or fails. */
    static final class AsyncDevice implements ExpertDevice {
        final LocalDevice inner;
        final boolean fail;
        CompletableFuture<Void> pending;
        int started;

        AsyncDevice(LocalDevice inner, boolean fail) {
            this.inner = inner;
            this.fail = fail;
        }

        public String name() {
            return "async " + inner.name();
        }

        public int[] groups() {
            return inner.groups();
        }

        public boolean local() {
            return false;
        }

        public void start(DeviceBatch b) {
            started++;
            pending = CompletableFuture.runAsync(() -> inner.finish(b));
        }

        public void finish(DeviceBatch b) {
            pending.join();
            if (fail) throw new DeviceUnavailableException(name(), groups(), name() + " (groups " + Placement.formatGroups(groups()) + ") is down", null);
        }

        public void close() {
            inner.close();
        }
    }

    private static ModelConfig config(HfCheckpoint ck) {
        return HfConfig.read(ck.config(), DIR.resolve("config.json"));
    }

    @Test
    void mixedLocalAndAsyncDevicesGiveTheSameOutput() {
        try (HfCheckpoint ck = HfCheckpoint.open(DIR)) {
            ModelConfig c = config(ck);
            Weights w = HfWeightLoader.load(ck, c, null);
            int[] prompt = DeviceRuns.tokens(21, c.vocabSize(), 3);
            for (int attempt = 0; ; attempt++) {
                DeviceRuns.Run ref;
                try (Model m = new Model(c, w, 2, 8)) {
                    ref = DeviceRuns.run(m, prompt, 8, 5);
                }
                try (Model m = new Model(c, w, 2, 8)) {
                    Placement p = Placement.split(c, 4);
                    List<ExpertDevice> devs = new ArrayList<>();
                    List<AsyncDevice> async = new ArrayList<>();
                    for (int d = 0; d < 4; d++) {
                        LocalDevice ld = new LocalDevice("device " + d, p.groups(d), w, c, new Parallel(1), true);
                        if (d % 2 == 1) {
                            AsyncDevice a = new AsyncDevice(ld, false);
                            async.add(a);
                            devs.add(a);
                        } else {
                            devs.add(ld);
                        }
                    }
                    m.setExpertExecutor(new Dispatcher(c, p, devs, m.team(), null));
                    DeviceRuns.Run got = DeviceRuns.run(m, prompt, 8, 5);
                    assertThat(got.greedy()).containsExactly(ref.greedy());
                    assertThat(async.get(0).started).isPositive();
                    if (DevicesEqualityTest.differing(got.logits(), ref.logits()) == 0) break;
                    assertThat(attempt).as("logits bitwise equal after warm-up").isLessThan(5);
                }
            }
        }
    }

    @Test
    void failingDevicesAreNamedWithTheirGroups() {
        try (HfCheckpoint ck = HfCheckpoint.open(DIR)) {
            ModelConfig c = config(ck);
            Weights w = HfWeightLoader.load(ck, c, null);
            try (Model m = new Model(c, w, 2, 8)) {
                Placement p = Placement.split(c, 4);
                List<ExpertDevice> devs = new ArrayList<>();
                for (int d = 0; d < 4; d++) {
                    LocalDevice ld = new LocalDevice("device " + d, p.groups(d), w, c, new Parallel(1), true);
                    devs.add(d == 0 ? ld : new AsyncDevice(ld, d >= 2));
                }
                m.setExpertExecutor(new Dispatcher(c, p, devs, m.team(), null));
                assertThatThrownBy(() -> DeviceRuns.run(m, new int[]{1, 2, 3}, 8, 1))
                        .isInstanceOfSatisfying(DeviceUnavailableException.class, e -> {
                            assertThat(e.groups()).containsExactly(2, 3);
                            assertThat(e.devices()).isEqualTo("async device 2, async device 3");
                            assertThat(e.getMessage()).contains("groups 2) is down").contains("groups 3) is down");
                        });
            }
        }
    }
}
