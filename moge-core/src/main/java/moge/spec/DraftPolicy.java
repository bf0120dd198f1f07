package moge.spec;

import java.util.Arrays;

/**
 * Chooses how many tokens to propose each round from what rounds have cost and how often proposals were
 * accepted. With a per-token acceptance rate a, proposing k tokens yields (1 - a^(k+1)) / (1 - a) tokens
 * per round on average; a round costs the measured time of a pass verifying k proposals plus k times the
 * measured cost of proposing one. The policy picks the k in {0} and [min, max] with the most tokens per
 * millisecond, where k = 0 is a plain decode step, so speculation switches itself off when it does not
 * pay. While off, it probes now and then (at growing intervals) in case the text turned predictable.
 */
final class DraftPolicy {
    static final double DECAY = 0.9;
    static final double COST_WEIGHT = 0.25;
    static final int FIRST_PROBE = 8;
    static final int MAX_PROBE = 256;
    /** Rounds after which a cost measured for one draft size is forgotten (it may date from JIT warm-up). */
    static final int FORGET = 64;

    final int min;
    final int max;
    final boolean adaptive;
    private final double[] cost;
    private final long[] measuredAt;
    private long rounds;
    private double draftCost = Double.NaN;
    private double hits, misses;
    private int plainRun;
    private int probeEvery = FIRST_PROBE;

    /** @param adaptive false: always ask for as many proposals as allowed (max, or fewer near the end) */
    DraftPolicy(int min, int max, boolean adaptive) {
        if (min < 1 || max < min) throw new IllegalArgumentException("draft sizes " + min + ".." + max);
        this.min = min;
        this.max = max;
        this.adaptive = adaptive;
        cost = new double[max + 1];
        measuredAt = new long[max + 1];
        Arrays.fill(cost, Double.NaN);
    }

    /** Proposals to ask for this round, at most {@code limit}; 0 means a plain step. */
    int choose(int limit) {
        rounds++;
        for (int k = 1; k <= max; k++) if (rounds - measuredAt[k] > FORGET) cost[k] = Double.NaN;
        int hi = Math.min(max, limit);
        if (hi < min) return 0;
        if (!adaptive) return hi;
        // Measure a plain step first: every decision compares against it.
        if (Double.isNaN(cost[0])) return 0;
        int best = 0;
        double bestRate = 1 / cost[0];
        double a = acceptance();
        double dc = Double.isNaN(draftCost) ? 0 : draftCost;
        for (int k = min; k <= hi; k++) {
            double rate = expectedTokens(a, k) / (roundCost(k) + k * dc);
            if (rate > bestRate) {
                bestRate = rate;
                best = k;
            }
        }
        if (best > 0) {
            plainRun = 0;
            probeEvery = FIRST_PROBE;
            return best;
        }
        if (++plainRun >= probeEvery) {
            plainRun = 0;
            probeEvery = Math.min(MAX_PROBE, probeEvery * 2);
            return min;
        }
        return 0;
    }

    /** Records a round: k tokens asked for (requested), k verified, accepted of them, times in ms. */
    void record(int requested, int verified, int accepted, double draftMs, double roundMs) {
        cost[verified] = ema(cost[verified], roundMs);
        measuredAt[verified] = rounds;
        if (requested > 0) draftCost = ema(draftCost, draftMs / requested);
        if (verified > 0) {
            hits = hits * DECAY + accepted;
            misses = misses * DECAY + (accepted < verified ? 1 : 0);
        }
    }

    /** Per-token acceptance estimate; starts optimistic (2/3) so that speculation is tried at all. */
    double acceptance() {
        return (hits + 2) / (hits + misses + 3);
    }

    /** Measured cost of a plain step in ms (NaN before the first). */
    double plainCost() {
        return cost[0];
    }

    static double expectedTokens(double a, int k) {
        if (a >= 1) return k + 1;
        return (1 - Math.pow(a, k + 1)) / (1 - a);
    }

    /** Measured cost of verifying k proposals, or a guess from the nearest measured sizes (cost[0] is known). */
    double roundCost(int k) {
        if (!Double.isNaN(cost[k])) return cost[k];
        int lo = k - 1;
        while (Double.isNaN(cost[lo])) lo--;
        int hi = k + 1;
        while (hi <= max && Double.isNaN(cost[hi])) hi++;
        if (hi <= max) return cost[lo] + (cost[hi] - cost[lo]) * (k - lo) / (hi - lo);
        // Beyond every measurement: assume each further token adds 5% of a plain step. Optimistic, so larger
        // drafts get tried; the first measurement replaces the guess.
        return cost[lo] + 0.05 * cost[0] * (k - lo);
    }

    private static double ema(double old, double x) {
        return Double.isNaN(old) ? x : old + COST_WEIGHT * (x - old);
    }
}
