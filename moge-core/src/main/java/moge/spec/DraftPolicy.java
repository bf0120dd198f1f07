package moge.spec;

import java.util.Arrays;

/**
 * Chooses how many tokens to propose each round from what rounds cost and how often proposals were
 * accepted. With a per-token acceptance rate a, proposing k tokens yields (1 - a^(k+1)) / (1 - a) tokens
 * per round on average; a round costs a pass verifying k proposals plus k proposals. Both costs are kept
 * relative to a plain decode step (so a busy machine or JIT warm-up, which slow everything alike, do not
 * skew them). The policy picks the k in {0} and [min, max] with the most tokens per unit of time, where
 * k = 0 is a plain step: speculation switches itself off when it does not pay, and probes now and then
 * (at growing intervals) in case the text turned predictable. Larger drafts are tried step by step.
 */
final class DraftPolicy {
    static final double DECAY = 0.9;
    static final double WEIGHT_UP = 0.1;
    static final int FIRST_PROBE = 8;
    static final int MAX_PROBE = 256;
    /** How far past the largest measured draft size the policy may guess. */
    static final int REACH = 2;
    /** While speculating, one round in this many is a plain step that keeps the reference cost fresh. */
    static final int REFRESH = 64;
    /** While speculating, one round in this many tries a neighbour of the best size (alternately larger, smaller). */
    static final int EXPLORE = 16;
    static final double STAY_ON = 0.97;

    final int min;
    final int max;
    final boolean adaptive;
    private double plainMs = Double.NaN;
    /** Cost of verifying k proposals in plain steps; [0] = 1. */
    private final double[] ratio;
    /** Sizes verified at least once: the first pass of a size runs while the JIT compiles it, so it is not a cost. */
    private final boolean[] seen;
    private boolean draftSeen;
    /** Cost of one token read by the draft, in plain steps. */
    private double draftRatio = Double.NaN;
    /** Whether the draft is a model that reads tokens (it catches up before proposing), not a lookup. */
    private boolean readsTokens;
    private int measuredMax;
    private double hits, misses;
    private int plainRun;
    private int specRun;
    private boolean on;
    private int probeEvery = FIRST_PROBE;
    private int explored;

    /** @param adaptive false: always ask for as many proposals as allowed (max, or fewer near the end) */
    DraftPolicy(int min, int max, boolean adaptive) {
        if (min < 1 || max < min) throw new IllegalArgumentException("draft sizes " + min + ".." + max);
        this.min = min;
        this.max = max;
        this.adaptive = adaptive;
        ratio = new double[max + 1];
        seen = new boolean[max + 1];
        Arrays.fill(ratio, Double.NaN);
        ratio[0] = 1;
    }

    /** Proposals to ask for this round, at most {@code limit}; 0 means a plain step. */
    int choose(int limit) {
        int hi = Math.min(max, limit);
        if (hi < min) return 0;
        if (!adaptive) return hi;
        // Measure a plain step first: every cost is relative to it.
        if (Double.isNaN(plainMs)) return 0;
        hi = Math.min(hi, Math.max(min, measuredMax + REACH));
        int best = min;
        double bestRate = rate(min);
        for (int k = min + 1; k <= hi; k++) {
            double r = rate(k);
            if (r > bestRate) {
                bestRate = r;
                best = k;
            }
        }
        // Hysteresis: once on, speculation stays on down to an estimated 0.97x, so that estimates wobbling
        // around 1 (a small model, a noisy machine) do not switch it off for a long probe interval.
        if (bestRate > (on ? STAY_ON : 1)) {
            on = true;
            plainRun = 0;
            probeEvery = FIRST_PROBE;
            if (++specRun >= REFRESH) {
                specRun = 0;
                return 0;
            }
            // A size measured once while the JIT was still compiling its code path keeps a bad cost until it
            // is tried again: try the neighbours now and then.
            if (specRun % EXPLORE == 0) {
                int k = ++explored % 2 == 0 ? best - 1 : best + 1;
                if (k >= min && k <= hi) return k;
            }
            return best;
        }
        on = false;
        if (++plainRun >= probeEvery) {
            // A probe refreshes the most promising size, so one unlucky measurement does not stick.
            plainRun = 0;
            probeEvery = Math.min(MAX_PROBE, probeEvery * 2);
            return best;
        }
        return 0;
    }

    /** Tokens per plain-step time when proposing k. */
    private double rate(int k) {
        double dr = Double.isNaN(draftRatio) ? 0 : draftRatio;
        return expectedTokens(acceptance(), k) / (cost(k) + draftTokens(k) * dr);
    }

    /**
     * Tokens a draft reads in a round that proposes k after a round that proposed too: a model reads the last
     * proposal and the target's own token, then one token per further proposal; a lookup reads nothing but
     * its cost is counted per proposal.
     */
    private int draftTokens(int k) {
        return readsTokens ? k + 1 : k;
    }

    /**
     * Records a round: {@code requested} proposals asked for, {@code verified} of them verified,
     * {@code accepted} of those kept; time spent proposing and verifying, in ms; {@code caughtUp}, how many
     * tokens a draft model had to read before proposing (2 when it proposed last round too: the last
     * proposal and the target's own token).
     */
    void record(int requested, int verified, int accepted, double draftMs, double roundMs, int caughtUp) {
        if (verified == 0) {
            plainMs = ema(plainMs, roundMs);
        } else if (!Double.isNaN(plainMs) && !seen[verified]) {
            seen[verified] = true;
        } else if (!Double.isNaN(plainMs)) {
            // Verifying k proposals in one pass never needs to cost more than k + 1 plain steps; a round that
            // did was slowed by something else (the JIT compiling a new batch size, a stall).
            ratio[verified] = ema(ratio[verified], Math.min(roundMs / plainMs, verified + 1.0));
            measuredMax = Math.max(measuredMax, verified);
        }
        // A draft model's cost is counted per token it reads: after plain steps it first reads every token it
        // missed (the price of having been off, not of proposing k), and in steady state it reads k + 1 tokens
        // for k proposals. Counted per proposal, a model proposing one token at a time looked twice as dear as
        // it is, and the policy never tried the long drafts that pay (self:q4_0 stayed at k = 1: 1.06x where
        // k = 8 gives 1.48x).
        if (requested > 0 && !Double.isNaN(plainMs)) {
            if (caughtUp > 0) readsTokens = true;
            int read = caughtUp > 0 ? requested - 1 + caughtUp : requested;
            // The first proposals run while the JIT compiles the draft; and a draft that cost more per token
            // than the target itself was slowed by something else (one that really did would never pay).
            if (draftSeen) draftRatio = ema(draftRatio, Math.min(1.0, draftMs / read / plainMs));
            draftSeen = true;
        }
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
        return plainMs;
    }

    static double expectedTokens(double a, int k) {
        if (a >= 1) return k + 1;
        return (1 - Math.pow(a, k + 1)) / (1 - a);
    }

    /** Measured cost of verifying k proposals (in plain steps), or a guess from the nearest measured sizes. */
    double cost(int k) {
        if (!Double.isNaN(ratio[k])) return ratio[k];
        int lo = k - 1;
        while (Double.isNaN(ratio[lo])) lo--;
        int hi = k + 1;
        while (hi <= max && Double.isNaN(ratio[hi])) hi++;
        if (hi <= max) return ratio[lo] + (ratio[hi] - ratio[lo]) * (k - lo) / (hi - lo);
        // Beyond every measurement: assume each further token adds 5% of a plain step. Optimistic, so larger
        // drafts get tried; the first measurement replaces the guess.
        return ratio[lo] + 0.05 * (k - lo);
    }

    /**
     * A cost estimate that falls fast and rises slowly: timings are only ever inflated (the JIT compiling a
     * new code path, a stall, another process), so a cheaper measurement is believed at once and a dearer
     * one only when it persists. Outliers are clipped to 3x.
     */
    private static double ema(double old, double x) {
        if (Double.isNaN(old)) return x;
        x = Math.max(old / 3, Math.min(old * 3, x));
        return old + (x < old ? 0.5 : WEIGHT_UP) * (x - old);
    }
}
