package moge.moe;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Locale;

/** Load statistics as JSON fields (bench records, /metrics) and as a line for people. */
public final class LoadReport {
    private LoadReport() {
    }

    /**
     * Adds imbalance_score_mean, imbalance_score_max, device_load and friends to a JSON record.
     *
     * @param router "moge" or "topk" (null leaves it out)
     */
    public static ObjectNode addTo(ObjectNode n, LoadStats.Snapshot s, String router) {
        if (router != null) n.put("router", router);
        n.put("devices", s.devices());
        n.put("imbalance_score_mean", s.imbalanceMean());
        n.put("imbalance_score_max", s.imbalanceMax());
        n.put("imbalance_score_p50", s.imbalanceQuantile(0.5));
        n.put("imbalance_score_p90", s.imbalanceQuantile(0.9));
        n.put("imbalanced_fraction", s.imbalancedFraction());
        n.put("moe_dispatches", s.dispatches());
        ArrayNode load = n.putArray("device_load");
        for (long v : s.deviceLoad()) load.add(v);
        ArrayNode share = n.putArray("device_load_share");
        for (double v : s.deviceShare()) share.add(round(v));
        long[] et = s.expertTotals();
        long total = 0, max = 0, min = Long.MAX_VALUE;
        for (long v : et) {
            total += v;
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        ObjectNode pop = n.putObject("expert_popularity");
        // shares relative to a uniform spread: 1.0 = the expert gets exactly its 1/n
        double uniform = et.length == 0 || total == 0 ? 0 : total / (double) et.length;
        pop.put("max_over_uniform", uniform == 0 ? 0 : round(max / uniform));
        pop.put("min_over_uniform", uniform == 0 ? 0 : round(min / uniform));
        ArrayNode per = pop.putArray("expert_load");
        for (long v : et) per.add(v);
        return n;
    }

    /** "IS mean 0.000 max 0.000 p90 0.000 (0% of 96 dispatches imbalanced); load per device 25.0% 25.0% 25.0% 25.0%" */
    public static String line(LoadStats.Snapshot s) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "IS mean %.3f max %.3f p50 %.2f p90 %.2f (%.0f%% of %d dispatches imbalanced); load per device",
                s.imbalanceMean(), s.imbalanceMax(), s.imbalanceQuantile(0.5), s.imbalanceQuantile(0.9), 100 * s.imbalancedFraction(),
                s.dispatches()));
        for (double v : s.deviceShare()) sb.append(String.format(Locale.ROOT, " %.1f%%", 100 * v));
        return sb.toString();
    }

    private static double round(double v) {
        return Math.round(v * 1e6) / 1e6;
    }
}
