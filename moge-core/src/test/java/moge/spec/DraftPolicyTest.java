package moge.spec;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The adaptive draft length against simulated costs and acceptance. */
class DraftPolicyTest {
    /**
     * Simulates rounds: verifying k proposals costs {@code plain * (1 + slope * k)}, each proposal costs
     * {@code draft}, and each proposal is accepted with probability {@code a} while the previous ones were.
     * Returns tokens per unit time relative to plain decoding.
     */
    static double simulate(DraftPolicy p, double slope, double draft, double a, int rounds, long seed, int[] lastK) {
        SplittableRandom r = new SplittableRandom(seed);
        double time = 0;
        long tokens = 0;
        for (int i = 0; i < rounds; i++) {
            int k = p.choose(64);
            double verify = 1 + slope * k;
            int acc = 0;
            while (acc < k && r.nextDouble() < a) acc++;
            p.record(k, k, acc, draft * k, verify, 0);
            time += verify + draft * k;
            tokens += acc + 1;
            if (lastK != null) lastK[0] = k;
        }
        return tokens / time;
    }

    @Test
    void speculatesDeeplyWhenVerificationIsCheapAndProposalsGood() {
        DraftPolicy p = new DraftPolicy(1, 8, true);
        int[] k = new int[1];
        double speedup = simulate(p, 0.05, 0.0, 0.9, 2000, 1, k);
        assertThat(k[0]).isGreaterThanOrEqualTo(6);
        assertThat(speedup).isGreaterThan(3.0);
    }

    @Test
    void switchesOffWhenProposalsAreBadAndStaysNearPlainSpeed() {
        for (double a : new double[]{0.0, 0.05, 0.15}) {
            DraftPolicy p = new DraftPolicy(1, 8, true);
            double speedup = simulate(p, 0.3, 0.1, a, 4000, 2, null);
            assertThat(speedup).as("acceptance %s", a).isGreaterThan(0.95);
        }
    }

    @Test
    void switchesOffWhenVerificationCostsAsMuchAsDecoding() {
        // k + 1 tokens in one pass cost k + 1 plain steps: speculation can only lose.
        DraftPolicy p = new DraftPolicy(1, 8, true);
        double speedup = simulate(p, 1.0, 0.0, 0.7, 4000, 3, null);
        assertThat(speedup).isGreaterThan(0.95);
    }

    @Test
    void expensiveDraftsShortenTheDraft() {
        DraftPolicy cheap = new DraftPolicy(1, 8, true), dear = new DraftPolicy(1, 8, true);
        int[] kc = new int[1], kd = new int[1];
        simulate(cheap, 0.05, 0.02, 0.75, 2000, 4, kc);
        simulate(dear, 0.05, 0.3, 0.75, 2000, 4, kd);
        assertThat(kd[0]).isLessThan(kc[0]);
        assertThat(kd[0]).isGreaterThanOrEqualTo(1);
    }

    @Test
    void comesBackWhenTextTurnsPredictable() {
        DraftPolicy p = new DraftPolicy(2, 8, true);
        simulate(p, 0.1, 0.05, 0.0, 3000, 5, null);
        assertThat(p.choose(64)).isZero();
        int[] k = new int[1];
        double speedup = simulate(p, 0.1, 0.05, 0.95, 3000, 6, k);
        assertThat(k[0]).isGreaterThanOrEqualTo(4);
        assertThat(speedup).isGreaterThan(2.0);
    }

    @Test
    void aDraftModelIsChargedPerTokenItReadsSoLongDraftsGetTried() {
        // A quantized self-copy: it reads k + 1 tokens per round (the last proposal and the target's token, then
        // one per further proposal) at 0.45 of a plain step each, and always agrees; verifying k costs
        // 1 + 0.12 k. k = 1 gives 1.06x, k = 8 gives 1.6x.
        DraftPolicy p = new DraftPolicy(1, 8, true);
        double time = 0;
        long tokens = 0;
        int k = 0;
        for (int i = 0; i < 600; i++) {
            k = p.choose(64);
            double verify = k > 0 ? 1 + 0.12 * k : 1, draft = k > 0 ? 0.45 * (k + 1) : 0;
            p.record(k, k, k, draft, verify, k > 0 ? 2 : 0);
            if (i >= 200) {
                time += verify + draft;
                tokens += k + 1;
            }
        }
        assertThat(k).isGreaterThanOrEqualTo(6);
        assertThat(tokens / time).isGreaterThan(1.4);
    }

    @Test
    void coldFirstMeasurementsDoNotKeepSpeculationOff() {
        // The first pass of every batch size (and the first plain steps, and the draft's first proposals) run
        // 30x slow while the JIT compiles them; afterwards speculation pays (k tokens verified for 1 + 0.05k).
        DraftPolicy p = new DraftPolicy(1, 8, true);
        java.util.Set<Integer> warm = new java.util.HashSet<>();
        SplittableRandom r = new SplittableRandom(7);
        double time = 0;
        long tokens = 0;
        for (int i = 0; i < 3000; i++) {
            int k = p.choose(64);
            double cold = warm.add(k) || i < 3 ? 30 : 1;
            double verify = (1 + 0.05 * k) * cold, draft = 0.1 * k * cold;
            int acc = 0;
            while (acc < k && r.nextDouble() < 0.9) acc++;
            // a draft model reads the tokens it missed while speculation was off before proposing
            p.record(k, k, acc, draft, verify, k > 0 ? 2 : 0);
            if (i >= 1000) {
                time += verify + draft;
                tokens += acc + 1;
            }
        }
        assertThat(tokens / time).isGreaterThan(2.0);
    }

    @Test
    void aDraftCatchingUpAfterPlainStepsIsNotChargedPerProposal() {
        // Proposals are cheap (0.1 of a plain step each) but after plain steps the draft reads 200 missed tokens.
        DraftPolicy p = new DraftPolicy(1, 8, true);
        assertThat(p.choose(64)).isZero();
        p.record(0, 0, 0, 0, 1.0, 0);
        int k = p.choose(64);
        assertThat(k).isPositive();
        p.record(k, k, k, 0.1 * k + 20, 1 + 0.05 * k, 200);
        assertThat(p.choose(64)).as("still speculating").isPositive();
    }

    @Test
    void respectsLimitsAndFixedMode() {
        DraftPolicy fixed = new DraftPolicy(2, 6, false);
        assertThat(fixed.choose(64)).isEqualTo(6);
        assertThat(fixed.choose(4)).isEqualTo(4);
        assertThat(fixed.choose(1)).isZero();
        DraftPolicy p = new DraftPolicy(3, 8, true);
        // The first round measures plain decoding.
        assertThat(p.choose(64)).isZero();
        p.record(0, 0, 0, 0, 1.0, 0);
        assertThat(p.choose(64)).isBetween(3, 8);
        assertThat(p.choose(2)).isZero();
    }

    @Test
    void expectedTokensFollowTheGeometricSeries() {
        assertThat(DraftPolicy.expectedTokens(0.5, 0)).isEqualTo(1.0);
        assertThat(DraftPolicy.expectedTokens(0.5, 2)).isEqualTo(1.75);
        assertThat(DraftPolicy.expectedTokens(1.0, 4)).isEqualTo(5.0);
        assertThat(DraftPolicy.expectedTokens(0.0, 4)).isEqualTo(1.0);
    }
}
