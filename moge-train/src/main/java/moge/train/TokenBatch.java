package moge.train;

import java.util.Arrays;

/**
 * Sequences packed back to back without padding: row t belongs to the sequence whose range
 * [seqStart[b], seqStart[b+1]) holds it, sits at position t - seqStart[b], and attends only inside its
 * sequence. target[t] is the token row t must predict, or -1 where no loss is taken (prompt tokens in SFT,
 * the last token of each sequence).
 */
public final class TokenBatch {
    public final int[] tokens;
    public final int[] targets;
    public final int[] seqStart;
    public final int[] positions;

    public TokenBatch(int[] tokens, int[] targets, int[] seqStart) {
        if (tokens.length != targets.length) throw new IllegalArgumentException("tokens and targets differ in length");
        if (seqStart.length < 2 || seqStart[0] != 0 || seqStart[seqStart.length - 1] != tokens.length) {
            throw new IllegalArgumentException("seqStart must run from 0 to " + tokens.length);
        }
        this.tokens = tokens;
        this.targets = targets;
        this.seqStart = seqStart;
        this.positions = new int[tokens.length];
        for (int b = 0; b + 1 < seqStart.length; b++) {
            if (seqStart[b + 1] <= seqStart[b]) throw new IllegalArgumentException("empty sequence " + b);
            for (int t = seqStart[b]; t < seqStart[b + 1]; t++) positions[t] = t - seqStart[b];
        }
    }

    public int size() {
        return tokens.length;
    }

    public int sequences() {
        return seqStart.length - 1;
    }

    public int length(int b) {
        return seqStart[b + 1] - seqStart[b];
    }

    public int targetCount() {
        int n = 0;
        for (int t : targets) if (t >= 0) n++;
        return n;
    }

    /** Builds a batch from whole sequences; loss[i][j] says whether token j+1 of sequence i is predicted. */
    public static TokenBatch of(int[][] seqs, boolean[][] loss) {
        int n = 0;
        for (int[] s : seqs) n += s.length;
        int[] tok = new int[n], tgt = new int[n], start = new int[seqs.length + 1];
        Arrays.fill(tgt, -1);
        int o = 0;
        for (int b = 0; b < seqs.length; b++) {
            start[b] = o;
            int[] s = seqs[b];
            for (int j = 0; j < s.length; j++) {
                tok[o + j] = s[j];
                if (j + 1 < s.length && (loss == null || loss[b][j + 1])) tgt[o + j] = s[j + 1];
            }
            o += s.length;
        }
        start[seqs.length] = n;
        return new TokenBatch(tok, tgt, start);
    }
}
