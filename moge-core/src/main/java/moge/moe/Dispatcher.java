package moge.moe;

import moge.model.ExpertExecutor;
import moge.model.ModelConfig;
import moge.tensor.Parallel;
import moge.tensor.VectorMath;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Expert parallelism: the routed (token, expert) pairs of a layer are sent to the devices that own the
 * experts (each device gets its rows in one batch and the hidden states of the distinct tokens it needs),
 * the devices run concurrently, and their outputs are gathered back and combined per token in slot order.
 * The combine never depends on device count or arrival order, so any placement gives bit-for-bit the
 * output of {@link moge.model.LocalExperts} (given the same kernels).
 */
public final class Dispatcher implements ExpertExecutor {
    private final ModelConfig config;
    private final Placement placement;
    private final ExpertDevice[] devices;
    private final Parallel team;
    private final LoadStats stats;
    private final DeviceBatch[] batches;
    private final int[] deviceOfExpert;
    private final ExpertDevice[] localDevices;
    private final DeviceBatch[] localBatches;
    private int localCount;

    private int[] count = new int[0], fill = new int[0], lastToken = new int[0];
    private int[] rowOf = new int[0];

    /**
     * @param devices one per device of the placement, in its order
     * @param team    the model's threads: they run the local devices concurrently (one device per member)
     * @param stats   load accounting, or null
     */
    public Dispatcher(ModelConfig config, Placement placement, List<? extends ExpertDevice> devices, Parallel team, LoadStats stats) {
        if (devices.size() != placement.devices()) {
            throw new IllegalArgumentException(devices.size() + " devices for a placement of " + placement.devices());
        }
        this.config = config;
        this.placement = placement;
        this.devices = devices.toArray(new ExpertDevice[0]);
        this.team = team;
        this.stats = stats;
        this.deviceOfExpert = placement.deviceOfExpert();
        this.batches = new DeviceBatch[this.devices.length];
        for (int d = 0; d < batches.length; d++) batches[d] = new DeviceBatch();
        this.localDevices = new ExpertDevice[this.devices.length];
        this.localBatches = new DeviceBatch[this.devices.length];
        this.lastToken = new int[this.devices.length];
    }

    public Placement placement() {
        return placement;
    }

    public LoadStats stats() {
        return stats;
    }

    public List<ExpertDevice> devices() {
        return List.of(devices);
    }

    @Override
    public void run(int layer, float[] xn, int tokens, int[] idx, float[] w, int k, float[] out) {
        int n = config.numExperts(), H = config.hidden(), D = devices.length;
        int rows = tokens * k;
        if (count.length < n) {
            count = new int[n];
            fill = new int[n];
        }
        if (rowOf.length < rows) rowOf = new int[rows];
        if (stats != null) stats.routed(layer, tokens, idx, k);
        dispatch(layer, xn, tokens, idx, k, n, H, rows);
        compute();
        // gather: fixed order (token, then slot), whatever device computed the row
        for (int t = 0; t < tokens; t++) {
            for (int s = 0; s < k; s++) {
                int i = t * k + s;
                DeviceBatch b = batches[deviceOfExpert[idx[i]]];
                VectorMath.axpy(w[i], b.y, rowOf[i] * H, out, t * H, H);
            }
        }
    }

    /** Splits the routed rows into one batch per device, each sorted by expert. */
    private void dispatch(int layer, float[] xn, int tokens, int[] idx, int k, int n, int H, int rows) {
        int D = devices.length;
        for (int d = 0; d < D; d++) batches[d].reset(layer, H, xn, tokens, rows, n);
        Arrays.fill(count, 0, n, 0);
        for (int i = 0; i < rows; i++) count[idx[i]]++;
        for (int e = 0; e < n; e++) {
            if (count[e] == 0) continue;
            DeviceBatch b = batches[deviceOfExpert[e]];
            int s = b.segments++;
            b.segExpert[s] = e;
            b.segStart[s] = b.rows;
            b.segCount[s] = count[e];
            fill[e] = b.rows;
            b.rows += count[e];
        }
        Arrays.fill(lastToken, -1);
        for (int t = 0; t < tokens; t++) {
            for (int s = 0; s < k; s++) {
                int i = t * k + s, e = idx[i], d = deviceOfExpert[e];
                DeviceBatch b = batches[d];
                if (lastToken[d] != t) {
                    lastToken[d] = t;
                    b.tokenIndex[b.tokens++] = t;
                }
                int r = fill[e]++;
                rowOf[i] = r;
                b.rowToken[r] = b.tokens - 1;
            }
        }
    }

    /** Remote devices first (they compute while we do), then the local ones spread over our threads. */
    private void compute() {
        int D = devices.length;
        for (int d = 0; d < D; d++) {
            if (!devices[d].local() && batches[d].rows > 0) devices[d].start(batches[d]);
        }
        localCount = 0;
        for (int d = 0; d < D; d++) {
            if (devices[d].local() && batches[d].rows > 0) {
                localDevices[localCount] = devices[d];
                localBatches[localCount++] = batches[d];
            }
        }
        RuntimeException localFailure = null;
        try {
            if (localCount == 1) {
                localDevices[0].finish(localBatches[0]);
            } else if (localCount > 1) {
                team.forEach(localCount, (i, member) -> localDevices[i].finish(localBatches[i]));
            }
        } catch (RuntimeException e) {
            localFailure = e;
        }
        List<DeviceUnavailableException> missing = new ArrayList<>();
        for (int d = 0; d < D; d++) {
            if (devices[d].local() || batches[d].rows == 0) continue;
            try {
                devices[d].finish(batches[d]);
            } catch (DeviceUnavailableException e) {
                missing.add(e);
            }
        }
        if (localFailure != null) throw localFailure;
        if (missing.size() == 1) throw missing.get(0);
        if (!missing.isEmpty()) throw combine(missing);
    }

    private static DeviceUnavailableException combine(List<DeviceUnavailableException> all) {
        StringBuilder msg = new StringBuilder();
        StringBuilder who = new StringBuilder();
        int[] groups = new int[0];
        for (DeviceUnavailableException e : all) {
            if (!msg.isEmpty()) {
                msg.append("; ");
                who.append(", ");
            }
            msg.append(e.getMessage());
            who.append(e.devices());
            int[] g = e.groups();
            int o = groups.length;
            groups = Arrays.copyOf(groups, o + g.length);
            System.arraycopy(g, 0, groups, o, g.length);
        }
        return new DeviceUnavailableException(who.toString(), groups, msg.toString(), all.get(0));
    }

    @Override
    public void close() {
        for (ExpertDevice d : devices) d.close();
    }
}
