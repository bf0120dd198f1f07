package moge.sample;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SamplerTest {
    private static float[] logits(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) l[i] = (float) (2 * r.nextGaussian());
        return l;
    }

    @Test
    void greedyTakesArgmaxAndTiesGoToLowerId() {
        float[] l = {0f, 3f, 1f, 3f};
        assertThat(new Sampler(SamplerParams.greedy(), 4).sample(l, 0, new int[0], 0)).isEqualTo(1);
    }

    @Test
    void sameSeedSameTokens() {
        float[] l = logits(1000, 1);
        SamplerParams p = new SamplerParams(0.8f, 40, 0.9f, 0.05f, 1.1f, 64, 0.1f, 0.1f, 1234);
        int[] a = new int[50], b = new int[50];
        Sampler s1 = new Sampler(p, 1000), s2 = new Sampler(p, 1000);
        for (int i = 0; i < 50; i++) {
            a[i] = s1.sample(l, 0, a, i);
            b[i] = s2.sample(l, 0, b, i);
        }
        assertThat(a).containsExactly(b);
        Sampler s3 = new Sampler(p.withSeed(99), 1000);
        int[] c = new int[50];
        for (int i = 0; i < 50; i++) c[i] = s3.sample(l, 0, c, i);
        assertThat(c).isNotEqualTo(a);
    }

    @Test
    void filtersKeepOnlyAllowedTokens() {
        float[] l = logits(500, 2);
        Integer[] order = new Integer[500];
        for (int i = 0; i < 500; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Float.compare(l[y], l[x]));
        // top-k
        float[] d = new Sampler(new SamplerParams(1f, 7, 1f, 0f, 1f, 64, 0, 0, 1), 500).distribution(l, 0, new int[0], 0);
        for (int i = 0; i < 500; i++) assertThat(d[order[i]] > 0).isEqualTo(i < 7);
        // min-p: everything kept has p >= 0.2 * pmax
        d = new Sampler(new SamplerParams(1f, 0, 1f, 0.2f, 1f, 64, 0, 0, 1), 500).distribution(l, 0, new int[0], 0);
        double pmax = Math.exp(l[order[0]]);
        for (int i = 0; i < 500; i++) {
            boolean allowed = Math.exp(l[i]) >= 0.2 * pmax - 1e-9;
            assertThat(d[i] > 0).as("token " + i).isEqualTo(allowed);
        }
        // top-p: the smallest prefix of the sorted list with mass >= p
        d = new Sampler(new SamplerParams(1f, 0, 0.5f, 0f, 1f, 64, 0, 0, 1), 500).distribution(l, 0, new int[0], 0);
        double z = 0;
        for (float v : l) z += Math.exp(v);
        double acc = 0;
        int keep = 0;
        while (acc < 0.5) acc += Math.exp(l[order[keep++]]) / z;
        for (int i = 0; i < 500; i++) assertThat(d[order[i]] > 0).isEqualTo(i < keep);
        double sum = 0;
        for (float v : d) sum += v;
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    }

    @Test
    void topPZeroKeepsOnlyTheMostLikelyToken() {
        float[] l = logits(500, 2);
        int best = 0;
        for (int i = 1; i < 500; i++) if (l[i] > l[best]) best = i;
        float[] d = new Sampler(new SamplerParams(1.5f, 0, 0f, 0f, 1f, 64, 0, 0, 1), 500).distribution(l, 0, new int[0], 0);
        assertThat(d[best]).isEqualTo(1f);
        assertThatThrownBy(() -> new SamplerParams(1f, 0, -0.1f, 0f, 1f, 64, 0, 0, 1).validate()).hasMessage("top_p must be in [0, 1], got -0.1");
        assertThatThrownBy(() -> new SamplerParams(1f, 0, 2f, 0f, 1f, 64, 0, 0, 1).validate(n -> "--" + n))
                .hasMessage("--top_p must be in [0, 1], got 2.0");
    }

    @Test
    void samplingFollowsTheDistribution() {
        float[] l = {0f, (float) Math.log(3), (float) Math.log(6)};
        Sampler s = new Sampler(new SamplerParams(1f, 0, 1f, 0f, 1f, 64, 0, 0, 7), 3);
        int[] counts = new int[3];
        for (int i = 0; i < 30000; i++) counts[s.sample(l, 0, new int[0], 0)]++;
        assertThat(counts[0] / 30000.0).isCloseTo(0.1, org.assertj.core.data.Offset.offset(0.01));
        assertThat(counts[1] / 30000.0).isCloseTo(0.3, org.assertj.core.data.Offset.offset(0.015));
        assertThat(counts[2] / 30000.0).isCloseTo(0.6, org.assertj.core.data.Offset.offset(0.015));
    }

    @Test
    void repeatPenaltyDemotesSeenTokens() {
        float[] l = {2f, 1.9f};
        Sampler s = new Sampler(new SamplerParams(0f, 0, 1f, 0f, 1.5f, 64, 0, 0, 1), 2);
        assertThat(s.sample(l, 0, new int[]{0}, 1)).isEqualTo(1);
        assertThat(s.sample(l, 0, new int[]{1}, 1)).isEqualTo(0);
    }

    /** The settings the bias tests run under: greedy, sampled with every filter and penalty, sampled plainly, greedy with penalties. */
    private static final SamplerParams[] SETTINGS = {SamplerParams.greedy(), new SamplerParams(0.8f, 40, 0.9f, 0.05f, 1.1f, 64, 0.1f, 0.1f, 1234),
            new SamplerParams(1.3f, 0, 1f, 0f, 1f, 64, 0f, 0f, 5), new SamplerParams(0f, 0, 1f, 0f, 1.3f, 16, 0.2f, 0.1f, 0)};

    /**
     * Hashes of 40 sampled tokens (each fed back as history) and of the 40 distributions before them, per
     * {@link #SETTINGS}, recorded with the sampler as it was before the logit bias: without a bias nothing changed.
     */
    @Test
    void withoutABiasDrawsAndDistributionsAreBitIdenticalToBefore() {
        int[][] golden = {{1212268161, 1191137920}, {-1906332010, 1132433488}, {-1720217151, -6954880}, {1830713630, 2013221504}};
        float[] l = logits(300, 11);
        for (int k = 0; k < SETTINGS.length; k++) {
            for (SamplerParams p : new SamplerParams[]{SETTINGS[k], SETTINGS[k].withLogitBias(Map.of())}) {
                Sampler s = new Sampler(p, 300);
                int[] h = new int[40];
                int dh = 0;
                for (int i = 0; i < 40; i++) {
                    dh = 31 * dh + Arrays.hashCode(s.distribution(l, 0, h, i));
                    h[i] = s.sample(l, 0, h, i);
                }
                assertThat(new int[]{Arrays.hashCode(h), dh}).as("settings %d", k).containsExactly(golden[k]);
            }
        }
    }

    /**
     * Against a plain reference: a biased sampler gives exactly what an unbiased one gives on logits with the
     * bias added by hand (a ban as -infinity), tokens and distributions alike, under every setting.
     */
    @Test
    void aBiasActsAsIfAddedToTheLogits() {
        SplittableRandom r = new SplittableRandom(21);
        for (int round = 0; round < 20; round++) {
            float[] l = logits(200, 100 + round);
            Map<Integer, Float> bias = new HashMap<>();
            for (int j = 0; j < 1 + r.nextInt(12); j++) bias.put(r.nextInt(200), r.nextInt(4) == 0 ? SamplerParams.BAN : (float) (r.nextDouble() * 40 - 20));
            float[] ref = l.clone();
            bias.forEach((id, v) -> ref[id] = v <= SamplerParams.BAN ? Float.NEGATIVE_INFINITY : ref[id] + v);
            for (SamplerParams p : SETTINGS) {
                Sampler biased = new Sampler(p.withLogitBias(bias), 200), plain = new Sampler(p, 200);
                int[] h = new int[30], hr = new int[30];
                for (int i = 0; i < 30; i++) {
                    assertThat(biased.distribution(l, 0, h, i)).isEqualTo(plain.distribution(ref, 0, hr, i));
                    h[i] = biased.sample(l, 0, h, i);
                    hr[i] = plain.sample(ref, 0, hr, i);
                }
                assertThat(h).as("round %d, %s", round, p).containsExactly(hr);
            }
        }
    }

    @Test
    void greedyTakesAStronglyFavouredToken() {
        float[] l = logits(1000, 5);
        int best = Sampler.argmax(l, 0, 1000);
        int favoured = best == 7 ? 8 : 7;
        Sampler s = new Sampler(SamplerParams.greedy().withLogitBias(Map.of(favoured, 100f)), 1000);
        assertThat(s.sample(l, 0, new int[0], 0)).isEqualTo(favoured);
        assertThat(s.distribution(l, 0, new int[0], 0)[favoured]).isEqualTo(1f);
    }

    @Test
    void aBannedTokenIsNeverChosen() {
        float[] l = logits(50, 6);
        int best = Sampler.argmax(l, 0, 50);
        // the favourite of the model and the one a large boost would otherwise make near certain
        Map<Integer, Float> bias = Map.of(best, SamplerParams.BAN);
        assertThat(new Sampler(SamplerParams.greedy().withLogitBias(bias), 50).sample(l, 0, new int[0], 0)).isNotEqualTo(best);
        // a high temperature flattens the distribution; a ban must still hold
        Sampler s = new Sampler(new SamplerParams(2f, 0, 1f, 0f, 1f, 64, 0f, 0f, 3).withLogitBias(bias), 50);
        float[] d = s.distribution(l, 0, new int[0], 0);
        assertThat(d[best]).isZero();
        int[] seen = new int[50];
        for (int i = 0; i < 20000; i++) seen[s.sample(l, 0, new int[0], 0)]++;
        assertThat(seen[best]).isZero();
        assertThat(Arrays.stream(seen).filter(c -> c > 0).count()).as("others still drawn").isGreaterThan(30);
        // top-k of one over a banned favourite keeps the runner-up, not the banned token
        Sampler k1 = new Sampler(new SamplerParams(1f, 1, 1f, 0f, 1f, 64, 0f, 0f, 3).withLogitBias(bias), 50);
        assertThat(k1.distribution(l, 0, new int[0], 0)[best]).isZero();
    }

    @Test
    void biasIsValidatedNamingTheIdAndValue() {
        SamplerParams g = SamplerParams.greedy();
        assertThatThrownBy(() -> new Sampler(g.withLogitBias(Map.of(3, 100.5f)), 10)).hasMessage("logit_bias of token 3 must be in [-100, 100], got 100.5");
        assertThatThrownBy(() -> g.withLogitBias(Map.of(3, Float.NaN)).validate()).hasMessage("logit_bias of token 3 must be in [-100, 100], got NaN");
        assertThatThrownBy(() -> g.withLogitBias(Map.of(-2, 1f)).validate()).hasMessage("logit_bias token ids must be >= 0, got -2");
        assertThatThrownBy(() -> new Sampler(g.withLogitBias(Map.of(1, 1f, 10, 1f)), 10))
                .hasMessage("logit_bias token ids must be in the vocabulary (0..9), got 10");
        assertThatThrownBy(() -> g.withLogitBias(Map.of(0, -100f, 1, -100f)).validate(n -> "--" + n.replace('_', '-'), 2))
                .hasMessage("--logit-bias must not ban every token of the vocabulary, got 2 banned");
        assertThat(g.withLogitBias(Map.of(2, 1f, 12, -3f)).withinVocab(10).logitBias()).isEqualTo(Map.of(2, 1f));
        assertThat(g.withLogitBias(Map.of(2, 1f)).withSeed(4).withTemperature(1f).logitBias()).isEqualTo(Map.of(2, 1f));
    }

    @Test
    void topKHeapMatchesSort() {
        SplittableRandom r = new SplittableRandom(3);
        for (int round = 0; round < 200; round++) {
            int n = 1 + r.nextInt(300), k = 1 + r.nextInt(n);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = r.nextInt(20); // many ties
            Integer[] o = new Integer[n];
            for (int i = 0; i < n; i++) o[i] = i;
            Arrays.sort(o, (a, b) -> x[b] != x[a] ? Float.compare(x[b], x[a]) : Integer.compare(a, b));
            int[] got = TopK.indices(x, 0, n, k);
            for (int i = 0; i < k; i++) assertThat(got[i]).isEqualTo(o[i]);
        }
    }
}
