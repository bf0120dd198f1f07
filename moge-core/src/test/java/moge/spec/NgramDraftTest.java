package moge.spec;

import moge.MogeException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NgramDraftTest {
    private static int[] propose(NgramDraft d, int[] h, int max) {
        Proposal p = new Proposal(2, 100);
        int n = d.propose(h, h.length, max, p);
        assertThat(p.size()).isEqualTo(n);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = p.token(i);
            assertThat(p.q(i)).isNull();
        }
        return out;
    }

    @Test
    void proposesWhatFollowedTheSuffixEarlier() {
        NgramDraft d = new NgramDraft(2, 4);
        int[] h = {10, 11, 12, 13, 14, 15, 99, 11, 12};
        assertThat(propose(d, h, 3)).containsExactly(13, 14, 15);
        assertThat(propose(d, h, 10)).containsExactly(13, 14, 15, 99, 11, 12, 13, 14, 15, 99);
    }

    @Test
    void prefersTheLongestMatchThenTheLatest() {
        NgramDraft d = new NgramDraft(1, 3);
        // "2 3" follows "1" at the start but the longer suffix "7 1" matched later points to 8.
        int[] h = {1, 2, 3, 7, 1, 8, 9, 5, 7, 1};
        assertThat(propose(d, h, 2)).containsExactly(8, 9);
        // Only a 1-gram matches: the latest earlier "1" is followed by 8.
        int[] g = {1, 2, 3, 1, 8, 4, 1};
        assertThat(propose(d, g, 1)).containsExactly(8);
    }

    @Test
    void repeatsAPeriodicPatternToFullLength() {
        NgramDraft d = new NgramDraft(2, 2);
        int[] h = {4, 5, 6, 4, 5, 6, 4, 5};
        assertThat(propose(d, h, 7)).containsExactly(6, 4, 5, 6, 4, 5, 6);
        int[] same = {3, 3, 3};
        assertThat(propose(d, same, 4)).containsExactly(3, 3, 3, 3);
    }

    @Test
    void proposesNothingWithoutAMatchOrBudget() {
        NgramDraft d = new NgramDraft(2, 4);
        assertThat(propose(d, new int[]{1, 2, 3, 4, 5}, 4)).isEmpty();
        assertThat(propose(d, new int[]{1, 2, 1, 2}, 0)).isEmpty();
        assertThat(propose(d, new int[]{1}, 4)).isEmpty();
        assertThat(propose(new NgramDraft(3, 3), new int[]{1, 2, 9, 1, 2}, 4)).isEmpty();
    }

    @Test
    void matchesABruteForceSearchOnRandomHistories() {
        SplittableRandom r = new SplittableRandom(5);
        for (int iter = 0; iter < 2000; iter++) {
            int len = 1 + r.nextInt(40), vocab = 2 + r.nextInt(6);
            int[] h = new int[len];
            for (int i = 0; i < len; i++) h[i] = r.nextInt(vocab);
            int min = 1 + r.nextInt(3), max = min + r.nextInt(3), k = r.nextInt(6);
            int[] got = propose(new NgramDraft(min, max), h, k);
            assertThat(got).as("history %s min %d max %d k %d", java.util.Arrays.toString(h), min, max, k)
                    .containsExactly(bruteForce(h, min, max, k));
        }
    }

    private static int[] bruteForce(int[] h, int min, int max, int k) {
        int len = h.length;
        if (k == 0) return new int[0];
        for (int n = Math.min(max, len - 1); n >= min; n--) {
            for (int j = len - n - 1; j >= 0; j--) {
                boolean eq = true;
                for (int i = 0; i < n; i++) eq &= h[j + i] == h[len - n + i];
                if (!eq) continue;
                int[] ext = java.util.Arrays.copyOf(h, len + k);
                for (int i = 0; i < k; i++) ext[len + i] = ext[j + n + i];
                return java.util.Arrays.copyOfRange(ext, len, len + k);
            }
        }
        return new int[0];
    }

    @Test
    void rejectsBadSizes() {
        assertThatThrownBy(() -> new NgramDraft(0, 2)).isInstanceOf(MogeException.class).hasMessageContaining("--ngram-min");
        assertThatThrownBy(() -> new NgramDraft(3, 2)).isInstanceOf(MogeException.class).hasMessageContaining("--ngram-max");
    }
}
