package moge.moe;

import moge.model.Model;

import java.util.ArrayDeque;
import java.util.List;

/**
 * Expert load as dispatch sees it. For every MoE layer of every batch ("a dispatch") it counts the expert
 * computations T_i that land on each device i and the imbalance score of the paper,
 * IS = (max_i T_i - min_i T_i) / |batch| with |batch| the batch's token count; over a run it keeps the mean,
 * maximum and a histogram of IS, the total load per device and the popularity of every expert.
 * With MoGE routing and devices that own whole groups IS is 0 by construction; with global top-k it is not.
 * <p>
 * Thread-safe: the forward pass records, a server or bench reads {@link #snapshot()} at any time.
 * The per-batch history (for plots) is bounded by the capacity given at construction.
 */
public final class LoadStats implements Model.RoutingListener {
    /** IS histogram resolution: IS is at most k, bins of 1/100. */
    private static final int BINS_PER_UNIT = 100;

    private final Placement placement;
    private final int[] deviceOfExpert;
    private final int devices;
    private final int layers;
    private final int historyCapacity;
    private final int[] perDevice;

    private long dispatches, tokens, batches;
    private double isSum, isMax;
    private long[] isHistogram = new long[BINS_PER_UNIT + 1];
    private final long[] deviceLoad;
    private final long[][] expertLoad;
    private final int[][] passExpertLoad; // the current forward pass, [layer][expert]
    private final ArrayDeque<Pass> history = new ArrayDeque<>();
    private Pass current;
    private int lastLayer = Integer.MAX_VALUE;

    /** One forward pass (all MoE layers of one batch): per-device expert computations summed over layers. */
    public record Batch(long index, int tokens, long[] deviceLoad, double isMax, double isMean, int layers) {
    }

    private static final class Pass {
        final long index;
        final int tokens;
        final long[] load;
        int layers;
        double isSum, isMax;

        Pass(long index, int tokens, int devices) {
            this.index = index;
            this.tokens = tokens;
            this.load = new long[devices];
        }

        Batch freeze() {
            return new Batch(index, tokens, load.clone(), isMax, layers == 0 ? 0 : isSum / layers, layers);
        }
    }

    /**
     * @param placement       the devices load is counted over (for a single device, e.g. {@link Placement#perGroup})
     * @param layers          the model's layer count
     * @param historyCapacity how many recent batches to keep for {@link Snapshot#history()} (0 = none)
     */
    public LoadStats(Placement placement, int layers, int historyCapacity) {
        this.placement = placement;
        this.deviceOfExpert = placement.deviceOfExpert();
        this.devices = placement.devices();
        this.layers = layers;
        this.historyCapacity = historyCapacity;
        this.perDevice = new int[devices];
        this.deviceLoad = new long[devices];
        this.expertLoad = new long[layers][placement.experts()];
        this.passExpertLoad = new int[layers][placement.experts()];
    }

    public Placement placement() {
        return placement;
    }

    @Override
    public synchronized void routed(int layer, int tokens, int[] idx, int k) {
        if (tokens <= 0) return;
        // a layer index that does not increase starts the next forward pass
        boolean newPass = current == null || layer <= lastLayer;
        if (newPass) for (int[] l : passExpertLoad) java.util.Arrays.fill(l, 0);
        java.util.Arrays.fill(perDevice, 0);
        long[] el = expertLoad[layer];
        int[] pl = passExpertLoad[layer];
        for (int i = 0, n = tokens * k; i < n; i++) {
            int e = idx[i];
            perDevice[deviceOfExpert[e]]++;
            el[e]++;
            pl[e]++;
        }
        int max = Integer.MIN_VALUE, min = Integer.MAX_VALUE;
        for (int d = 0; d < devices; d++) {
            max = Math.max(max, perDevice[d]);
            min = Math.min(min, perDevice[d]);
            deviceLoad[d] += perDevice[d];
        }
        double is = (double) (max - min) / tokens;
        dispatches++;
        isSum += is;
        isMax = Math.max(isMax, is);
        // bin 0 holds exactly-balanced dispatches only; others round up to the next 1/100
        int bin = is == 0 ? 0 : Math.max(1, (int) Math.ceil(is * BINS_PER_UNIT - 1e-9));
        if (bin >= isHistogram.length) isHistogram = java.util.Arrays.copyOf(isHistogram, bin + 1);
        isHistogram[bin]++;
        if (newPass) {
            batches++;
            this.tokens += tokens;
            current = new Pass(batches - 1, tokens, devices);
            if (historyCapacity > 0) {
                if (history.size() == historyCapacity) history.removeFirst();
                history.addLast(current);
            }
        }
        lastLayer = layer;
        for (int d = 0; d < devices; d++) current.load[d] += perDevice[d];
        current.layers++;
        current.isSum += is;
        current.isMax = Math.max(current.isMax, is);
    }

    public synchronized void reset() {
        dispatches = tokens = batches = 0;
        isSum = isMax = 0;
        java.util.Arrays.fill(isHistogram, 0);
        java.util.Arrays.fill(deviceLoad, 0);
        for (long[] l : expertLoad) java.util.Arrays.fill(l, 0);
        for (int[] l : passExpertLoad) java.util.Arrays.fill(l, 0);
        history.clear();
        current = null;
        lastLayer = Integer.MAX_VALUE;
    }

    public synchronized Snapshot snapshot() {
        long[][] el = new long[layers][];
        int[][] pl = new int[layers][];
        for (int l = 0; l < layers; l++) {
            el[l] = expertLoad[l].clone();
            pl[l] = passExpertLoad[l].clone();
        }
        return new Snapshot(devices, dispatches, batches, tokens, dispatches == 0 ? 0 : isSum / dispatches, isMax,
                isHistogram.clone(), deviceLoad.clone(), el, pl, history.stream().map(Pass::freeze).toList());
    }

    /**
     * A consistent copy of the counters.
     *
     * @param dispatches  MoE layer runs counted (batches x MoE layers)
     * @param batches     forward passes
     * @param tokens      tokens over all forward passes
     * @param isHistogram counts of IS by 1/100: bin 0 holds IS = 0 exactly, bin b > 0 holds (b-1)/100 < IS <= b/100
     * @param deviceLoad  expert computations per device over the run
     * @param expertLoad  [layer][expert] computations (routed token count) over the run
     * @param lastPassExpertLoad [layer][expert] computations of the latest forward pass
     */
    public record Snapshot(int devices, long dispatches, long batches, long tokens, double imbalanceMean, double imbalanceMax,
                           long[] isHistogram, long[] deviceLoad, long[][] expertLoad, int[][] lastPassExpertLoad, List<Batch> history) {
        /** IS at quantile q in [0, 1] from the histogram (to 1/100). */
        public double imbalanceQuantile(double q) {
            long total = 0;
            for (long c : isHistogram) total += c;
            if (total == 0) return 0;
            long want = (long) Math.ceil(q * total);
            long acc = 0;
            for (int b = 0; b < isHistogram.length; b++) {
                acc += isHistogram[b];
                if (acc >= Math.max(1, want)) return b / (double) BINS_PER_UNIT;
            }
            return (isHistogram.length - 1) / (double) BINS_PER_UNIT;
        }

        /** Share of dispatches with IS > 0 (bin 0 holds the exactly balanced ones). */
        public double imbalancedFraction() {
            long total = 0;
            for (long c : isHistogram) total += c;
            return total == 0 ? 0 : (total - isHistogram[0]) / (double) total;
        }

        /** Computations per expert summed over layers. */
        public long[] expertTotals() {
            int n = expertLoad.length == 0 ? 0 : expertLoad[0].length;
            long[] t = new long[n];
            for (long[] l : expertLoad) for (int e = 0; e < n; e++) t[e] += l[e];
            return t;
        }

        /** Each device's share of all expert computations. */
        public double[] deviceShare() {
            long total = 0;
            for (long v : deviceLoad) total += v;
            double[] s = new double[deviceLoad.length];
            for (int d = 0; d < s.length; d++) s[d] = total == 0 ? 0 : deviceLoad[d] / (double) total;
            return s;
        }
    }
}
