package moge.spec;

import moge.MogeException;

/**
 * Prompt lookup: the longest suffix of the text so far (between {@code ngramMin} and {@code ngramMax}
 * tokens) that also occurred earlier is taken as a hint, and what followed its latest earlier occurrence is
 * proposed. Costs microseconds and no model, and pays off wherever output copies input: edits, quotes,
 * code, repeated structure. A continuation that runs into the present keeps reading its own proposals, so
 * a repeating pattern is proposed at full length.
 */
public final class NgramDraft implements DraftSource {
    private final int ngramMin;
    private final int ngramMax;

    public NgramDraft(int ngramMin, int ngramMax) {
        if (ngramMin < 1) throw new MogeException("--ngram-min must be >= 1, got " + ngramMin);
        if (ngramMax < ngramMin) throw new MogeException("--ngram-max (" + ngramMax + ") must be >= --ngram-min (" + ngramMin + ")");
        this.ngramMin = ngramMin;
        this.ngramMax = ngramMax;
    }

    @Override
    public int propose(int[] h, int len, int max, Proposal out) {
        out.clear();
        if (max <= 0) return 0;
        for (int n = Math.min(ngramMax, len - 1); n >= ngramMin; n--) {
            int j = latestEarlier(h, len, n);
            if (j < 0) continue;
            // Token i of the continuation is h[j + n + i]; past the end of h it is our own earlier proposal.
            int from = j + n;
            for (int i = 0; i < max; i++) {
                int at = from + i;
                out.add(at < len ? h[at] : out.token(at - len));
            }
            return out.size();
        }
        return 0;
    }

    /** Start of the latest occurrence of h[len-n .. len) that begins before len-n, or -1. */
    static int latestEarlier(int[] h, int len, int n) {
        int s = len - n;
        int last = h[len - 1];
        for (int j = s - 1; j >= 0; j--) {
            if (h[j + n - 1] != last) continue;
            int i = 0;
            while (i < n - 1 && h[j + i] == h[s + i]) i++;
            if (i == n - 1) return j;
        }
        return -1;
    }

    @Override
    public String name() {
        return "ngram";
    }

    @Override
    public boolean deterministic() {
        return true;
    }
}
