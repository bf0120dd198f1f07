package moge.spec;

import moge.generate.LogProbs;
import moge.generate.SpecStats;
import moge.generate.Speculator;
import moge.generate.Step;
import moge.model.Batch;
import moge.model.KvSequence;
import moge.model.Model;
import moge.sample.Sampler;
import moge.sample.SamplerParams;


/**
 * Speculative decoding: a {@link DraftSource} proposes k tokens, the target scores the pending token and
 * all k proposals in one batched pass (logits for every row), the longest acceptable prefix is kept, one
 * more token comes from the target's own distribution, and the cache is cut back past the rejected rows.
 * <p>Greedy: a proposal is accepted when it is the target's choice (the same {@link Sampler} call plain
 * decoding makes), so the output is plain decoding's, token for token. Sampling: proposal x drawn from q is
 * accepted with probability min(1, p(x)/q(x)), otherwise the token is drawn from max(0, p - q)
 * normalised (Leviathan et al. 2023; Chen et al. 2023); a deterministic source has q = a point mass. Each
 * output token is then distributed exactly as the target's filtered distribution p.
 */
public final class SpeculativeDecoder implements Speculator, AutoCloseable {
    private final DraftSource source;
    private final DraftPolicy policy;
    private final Proposal proposal;
    private final int vocab;
    private Batch batch;
    private int[] h = new int[64];
    private float[] residual;
    private Sampler lastSampler;
    // between plan and apply
    private int want, planned;
    private long draftNanosNow, passNanos;

    private int rounds, draftRounds, drafted, accepted, emitted, maxDraft;
    private long draftNanos, verifyNanos;

    /**
     * @param vocab    the target's vocabulary size
     * @param draftMin fewest proposals worth a verification pass (>= 1)
     * @param draftMax most proposals per pass
     * @param adaptive  choose the number of proposals per round from measured costs and acceptance (false:
     *                  always draftMax, for measurements and tests)
     */
    public SpeculativeDecoder(DraftSource source, int vocab, int draftMin, int draftMax, boolean adaptive) {
        if (draftMin < 1) throw new moge.MogeException("--draft-min must be >= 1, got " + draftMin);
        if (draftMax < draftMin) throw new moge.MogeException("--draft-max (" + draftMax + ") must be >= --draft-min (" + draftMin + ")");
        this.source = source;
        this.vocab = vocab;
        this.policy = new DraftPolicy(draftMin, draftMax, adaptive);
        this.proposal = new Proposal(draftMax, vocab);
    }

    public DraftSource source() {
        return source;
    }

    @Override
    public void begin(int[] prompt) {
        rounds = draftRounds = drafted = accepted = emitted = maxDraft = 0;
        draftNanos = verifyNanos = 0;
        source.begin(prompt);
    }

    @Override
    public int round(Model model, KvSequence seq, Sampler sampler, int[] history, int len, int limit, int topLogprobs,
                     int[] outIds, Step[] outSteps) {
        if (batch == null || batch.capacity() < model.maxBatch()) batch = new Batch(model.maxBatch());
        batch.clear();
        plan(seq, sampler, history, len, Math.min(limit, model.maxBatch()), batch);
        long t0 = System.nanoTime();
        float[] logits = model.forward(batch);
        passNanos = System.nanoTime() - t0;
        return apply(logits, 0, seq, sampler, history, len, topLogprobs, outIds, outSteps);
    }

    /**
     * First half of a round, for a scheduler that batches several sequences into one pass: asks the source
     * for proposals and adds the pending token ({@code history[len - 1]}) and the proposals to {@code batch},
     * each with logits. Returns the rows added (1 + proposals, at most {@code budget}, which counts the
     * pending token). Must be followed by {@link #apply} with those rows of the pass's logits.
     */
    public int plan(KvSequence seq, Sampler sampler, int[] history, int len, int budget, Batch batch) {
        if (sampler != lastSampler) {
            lastSampler = sampler;
            SamplerParams p = sampler.params();
            // a draft model proposes under the target's settings (its bias above all), with a seed of its own
            proposal.setSampling(source.deterministic() ? null : p.withSeed(p.seed() >= 0 ? mix(p.seed()) : -1));
        }
        int pos = len - 1;
        want = policy.choose(budget - 1);
        long t0 = System.nanoTime();
        planned = 0;
        if (want > 0) planned = Math.min(want, source.propose(history, len, want, proposal));
        draftNanosNow = System.nanoTime() - t0;
        batch.add(history[pos], pos, seq, true);
        for (int i = 0; i < planned; i++) batch.add(proposal.token(i), pos + 1 + i, seq, true);
        passNanos = 0;
        return planned + 1;
    }

    /**
     * Tells the adaptive draft length what the forward pass between {@link #plan} and {@link #apply} cost
     * this sequence (a batching scheduler's share of a shared pass); without it only the verification
     * itself counts, which makes proposals look cheaper than they are.
     */
    public void passTime(long nanos) {
        passNanos = nanos;
    }

    /**
     * Second half of a round: verifies the planned proposals against their logits rows (from row
     * {@code firstRow}), writes the n tokens that follow the pending one (accepted proposals, then the
     * target's own token) with their steps, and cuts {@code seq} back to the fed token plus the accepted
     * proposals. Returns n (at least 1).
     */
    public int apply(float[] logits, int firstRow, KvSequence seq, Sampler sampler, int[] history, int len, int topLogprobs,
                     int[] outIds, Step[] outSteps) {
        long t1 = System.nanoTime();
        int pos = len - 1, k = planned, base = firstRow * vocab;
        if (h.length < len + k + 1) h = new int[len + k + 65];
        System.arraycopy(history, 0, h, 0, len);
        int n = 0;
        boolean greedy = sampler.params().isGreedy();
        for (; n < k; n++) {
            int row = base + n * vocab, d = proposal.token(n);
            int t = greedy ? sampler.sample(logits, row, h, len + n) : verifyDrawn(sampler, logits, row, len + n, d, proposal.q(n));
            outIds[n] = t;
            outSteps[n] = LogProbs.step(pos + 1 + n, t, logits, row, vocab, topLogprobs);
            h[len + n] = t;
            if (t != d) break;
        }
        int acc = n;
        if (n == k) {
            // Every proposal stood: the last row gives one more token for free.
            int row = base + k * vocab;
            int t = sampler.sample(logits, row, h, len + k);
            outIds[n] = t;
            outSteps[n] = LogProbs.step(pos + 1 + k, t, logits, row, vocab, topLogprobs);
        }
        n = acc + 1;
        // Keep the fed token and the accepted proposals; the rejected rows' keys go.
        seq.truncate(pos + n);
        long verify = passNanos + System.nanoTime() - t1;

        policy.record(want, k, acc, draftNanosNow / 1e6, verify / 1e6, want > 0 ? source.lastCatchUp() : 0);
        rounds++;
        if (k > 0) draftRounds++;
        drafted += k;
        accepted += acc;
        emitted += n;
        maxDraft = Math.max(maxDraft, k);
        draftNanos += draftNanosNow;
        verifyNanos += verify;
        return n;
    }

    /**
     * The token at a verified row when sampling: the proposal d if a uniform u falls below p(d)/q(d), else
     * a draw from the normalised residual max(0, p - q).
     */
    private int verifyDrawn(Sampler sampler, float[] logits, int row, int histLen, int d, float[] q) {
        float[] p = sampler.distribution(logits, row, h, histLen);
        double qd = q == null ? 1 : q[d];
        double u = sampler.nextUniform();
        if (qd > 0 && u * qd < p[d]) return d;
        if (residual == null) residual = new float[vocab];
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            double r = p[v] - (q == null ? (v == d ? 1 : 0) : q[v]);
            residual[v] = r > 0 ? (float) r : 0f;
            sum += residual[v];
        }
        if (sum <= 0) return sampler.draw(p);
        for (int v = 0; v < vocab; v++) residual[v] = (float) (residual[v] / sum);
        return sampler.draw(residual);
    }

    /** A seed for the draft's own generator, unrelated to the target's stream. */
    private static long mix(long seed) {
        long z = seed + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    @Override
    public SpecStats stats() {
        double plain = policy.plainCost();
        return new SpecStats(source.name(), rounds, draftRounds, drafted, accepted, emitted, draftNanos / 1e6, verifyNanos / 1e6,
                Double.isNaN(plain) ? 0 : plain, maxDraft);
    }

    @Override
    public void close() {
        source.close();
    }
}
