package moge.moe;

import moge.model.Model;
import moge.tensor.Parallel;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code --devices N} on one machine: N devices, each a thread team owning G/N contiguous expert groups.
 * <p>
 * Threads: the devices share the cores the model was given. With T model threads each device gets
 * max(1, T / N) threads; a device's first thread is lent by the model's team (member m drives whichever
 * device it picks up), the others are the device's own workers. So on 2 cores, 2 devices run one thread
 * each, side by side, and 4 devices run two at a time; no core is oversubscribed by idle spinning teams.
 * One device uses the model's team itself.
 */
public final class LocalDevices {
    private LocalDevices() {
    }

    /** Threads per device for T model threads and N devices. */
    public static int threadsPerDevice(int threads, int devices) {
        return Math.max(1, threads / devices);
    }

    /** Builds the devices and the dispatcher and installs it in the model (replacing the executor it had). */
    public static Dispatcher install(Model m, int devices, LoadStats stats) {
        Placement p = Placement.split(m.config, devices);
        if (p == null) return null;
        Parallel team = m.team();
        List<LocalDevice> list = new ArrayList<>();
        int per = threadsPerDevice(team.threads(), devices);
        for (int d = 0; d < devices; d++) {
            String name = "device " + d;
            if (devices == 1) {
                list.add(new LocalDevice(name, p.groups(d), m.weights, m.config, team, false));
            } else {
                list.add(new LocalDevice(name, p.groups(d), m.weights, m.config, new Parallel(per, "moge-dev" + d), true));
            }
        }
        Dispatcher disp = new Dispatcher(m.config, p, list, team, stats);
        m.setExpertExecutor(disp);
        return disp;
    }
}
