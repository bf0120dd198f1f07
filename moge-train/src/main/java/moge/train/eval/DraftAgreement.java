package moge.train.eval;

import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.sample.Sampler;

import java.util.List;

/**
 * How well a draft model predicts a target's greedy output: the target's own generations are fed to the draft
 * (teacher forcing) and the draft's argmax at every position is compared with the target's next token. For
 * greedy speculative decoding the draft's proposal after an accepted prefix is exactly that argmax, so the
 * same pass also gives the tokens a verification round yields with K proposals.
 */
public final class DraftAgreement {
    /** Token agreement, and mean tokens produced per target verification pass for each K in {@code ks}. */
    public record Result(long tokens, long agreed, int[] ks, double[] tokensPerRound) {
        public double agreement() {
            return tokens == 0 ? 0 : (double) agreed / tokens;
        }
    }

    private DraftAgreement() {
    }

    public static Result measure(LoadedModel draft, List<HeldOutEval.Output> targetOutputs, int[] ks, int threads) {
        long tokens = 0, agreed = 0;
        double[] rounds = new double[ks.length];
        long[] produced = new long[ks.length];
        int V = draft.config.vocabSize();
        try (Model m = new Model(draft.config, draft.weights, threads, 512)) {
            for (HeldOutEval.Output o : targetOutputs) {
                int[] p = o.prompt(), g = o.generated();
                if (g.length == 0) continue;
                int n = p.length + g.length - 1;
                KvSequence seq = KvCache.forContext(draft.config, n + 16, 1, 16).newSequence();
                boolean[] match = new boolean[g.length];
                Batch b = new Batch(512);
                int pos = 0;
                // positions p.length-1 .. n-1 predict g[0..]; run in chunks of the batch size
                while (pos < n) {
                    b.clear();
                    int end = Math.min(n, pos + 512);
                    for (int i = pos; i < end; i++) {
                        int tok = i < p.length ? p[i] : g[i - p.length];
                        b.add(tok, i, seq, i >= p.length - 1);
                    }
                    float[] logits = m.forward(b);
                    int row = 0;
                    for (int i = pos; i < end; i++) {
                        if (i < p.length - 1) continue;
                        int k = i - (p.length - 1);
                        match[k] = Sampler.argmax(logits, row * V, V) == g[k];
                        row++;
                    }
                    pos = end;
                }
                for (boolean x : match) if (x) agreed++;
                tokens += match.length;
                for (int ki = 0; ki < ks.length; ki++) {
                    int at = 0, r = 0;
                    while (at < match.length) {
                        int acc = 0;
                        while (acc < ks[ki] && at + acc < match.length && match[at + acc]) acc++;
                        at += acc + 1; // accepted proposals plus the target's own next token
                        r++;
                    }
                    rounds[ki] += r;
                    produced[ki] += match.length;
                }
            }
        }
        double[] perRound = new double[ks.length];
        for (int i = 0; i < ks.length; i++) perRound[i] = rounds[i] == 0 ? 0 : produced[i] / rounds[i];
        return new Result(tokens, agreed, ks, perRound);
    }
}
