package moge.sample;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
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
