package moge.spec;

import moge.MogeException;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.sample.Sampler;
import moge.sample.SamplerParams;
import moge.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * A draft model with its own cache: it catches up on the history (whatever the target accepted or
 * rejected since last time: the cache is cut back to the common prefix), then runs one token at a time.
 * It follows the target's settings (logit bias and penalties included): with sampling it draws from its own
 * distribution under them and reports q; greedy, it proposes its argmax under them.
 */
public final class ModelDraft implements DraftSource {
    private final Model model;
    private final KvSequence seq;
    private final int context;
    private final int vocab;
    private final int targetVocab;
    private final String name;
    private final AutoCloseable[] owned;
    private final boolean ownsModel;
    private final Batch batch;
    private int[] cached = new int[64];
    private int cachedLen;
    private int[] hist = new int[64];
    private int lastCatchUp;
    private Sampler sampler;
    private SamplerParams samplerFor;

    /**
     * @param vocab       ids the draft may propose (the vocabulary it shares with the target)
     * @param targetVocab the target's vocabulary size (the length of each q)
     * @param owned       closed with this source after the model (a loaded checkpoint, a quantized copy)
     */
    public ModelDraft(Model model, int context, int vocab, int targetVocab, String name, AutoCloseable... owned) {
        this(model, null, context, vocab, targetVocab, name, true, owned);
    }

    /**
     * A draft whose model and cache serve several sequences (a batching server): it takes one sequence of
     * {@code shared} and gives it back on {@link #close}, leaving the model open.
     */
    public ModelDraft(Model model, KvCache shared, int context, int vocab, int targetVocab, String name) {
        this(model, shared, context, vocab, targetVocab, name, false);
    }

    private ModelDraft(Model model, KvCache shared, int context, int vocab, int targetVocab, String name, boolean ownsModel,
                       AutoCloseable... owned) {
        if (vocab > model.config.vocabSize() || vocab > targetVocab) throw new IllegalArgumentException("vocab " + vocab);
        this.model = model;
        this.context = Math.min(context, model.config.maxPositions());
        this.vocab = vocab;
        this.targetVocab = targetVocab;
        this.name = name;
        this.owned = owned;
        this.ownsModel = ownsModel;
        this.seq = (shared != null ? shared : model.newCache(this.context, 1)).newSequence();
        this.batch = new Batch(model.maxBatch());
    }

    public Model model() {
        return model;
    }

    @Override
    public void begin(int[] prompt) {
        // All but the last prompt token: the first proposal feeds that one (with the first generated token).
        if (prompt.length > 1 && prompt.length - 1 <= context) catchUp(prompt, prompt.length - 1, false);
    }

    @Override
    public int propose(int[] h, int len, int max, Proposal out) {
        out.clear();
        // Draft j sits at position len - 1 + j, and all but the last are fed.
        max = Math.min(max, context - len + 1);
        if (max <= 0 || len == 0) return 0;
        float[] logits = catchUp(h, len, true);
        if (hist.length < len + max) hist = Arrays.copyOf(hist, len + max + 64);
        System.arraycopy(h, 0, hist, 0, len);
        SamplerParams sp = out.sampling();
        if (sp != null && sp != samplerFor) {
            sampler = new Sampler(sp.withinVocab(model.config.vocabSize()), model.config.vocabSize());
            samplerFor = sp;
        }
        for (int i = 0; i < max; i++) {
            int tok;
            if (sp == null) {
                tok = Sampler.argmax(logits, 0, vocab);
                out.add(tok);
            } else if (sp.isGreedy()) {
                // the target's choice if the draft were right: a banned token is never worth a verification row
                tok = sampler.sample(logits, 0, hist, len + i);
                if (tok >= vocab) break;
                out.add(tok);
            } else {
                float[] d = sampler.distribution(logits, 0, hist, len + i);
                if (out.vocab() != targetVocab) throw new IllegalArgumentException("proposal over " + out.vocab() + " ids");
                double s = 0;
                for (int v = 0; v < vocab; v++) s += d[v];
                // Everything the draft would say lies outside the shared vocabulary: stop before this token.
                // (Deciding from q alone, not from a drawn token, keeps the earlier proposals unbiased.)
                if (s <= 0) break;
                float[] q = out.addDrawn(0);
                for (int v = 0; v < vocab; v++) q[v] = (float) (d[v] / s);
                tok = draw(q, sampler.nextUniform());
                out.replaceLast(tok);
            }
            hist[len + i] = tok;
            if (i == max - 1) break;
            batch.clear().add(tok, len - 1 + i + 1, seq, true);
            logits = model.forward(batch);
            remember(tok, len + i);
        }
        return out.size();
    }

    /**
     * Cuts the cache back to what still matches the history and feeds the rest; logits of the last token
     * (when asked for; at least one token is always fed then).
     */
    private float[] catchUp(int[] h, int len, boolean logitsOfLast) {
        int common = 0, limit = Math.min(cachedLen, logitsOfLast ? len - 1 : len);
        while (common < limit && cached[common] == h[common]) common++;
        seq.truncate(Math.min(seq.length(), common));
        cachedLen = common;
        lastCatchUp = len - common;
        float[] logits = null;
        int chunk = model.maxBatch();
        for (int start = common; start < len; start += chunk) {
            int end = Math.min(len, start + chunk);
            batch.clear();
            for (int p = start; p < end; p++) batch.add(h[p], p, seq, logitsOfLast && p == len - 1);
            logits = model.forward(batch);
            for (int p = start; p < end; p++) remember(h[p], p);
        }
        return logits;
    }

    @Override
    public int lastCatchUp() {
        return lastCatchUp;
    }

    private void remember(int tok, int pos) {
        if (cached.length <= pos) cached = Arrays.copyOf(cached, Math.max(pos + 1, cached.length * 2));
        cached[pos] = tok;
        cachedLen = pos + 1;
    }

    private int draw(float[] q, double u) {
        double acc = 0;
        int last = -1;
        for (int v = 0; v < vocab; v++) {
            if (q[v] <= 0) continue;
            acc += q[v];
            last = v;
            if (u < acc) return v;
        }
        return last;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean deterministic() {
        return false;
    }

    @Override
    public void close() {
        seq.release();
        if (!ownsModel) return;
        model.close();
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new MogeException("closing draft " + name + ": " + e.getMessage());
            }
        }
    }

    /**
     * The ids a draft may propose to a target: both must share one vocabulary. With tokenizers on both sides
     * every piece must agree (a model padded to a larger vocab_size is fine); without them the vocab sizes
     * must be equal.
     */
    public static int sharedVocab(LoadedModel target, LoadedModel draft) {
        Tokenizer t = target.tokenizer, d = draft.tokenizer;
        int tv = target.config.vocabSize(), dv = draft.config.vocabSize();
        if (t == null || d == null) {
            if (tv != dv) {
                throw new MogeException("draft model " + draft.path + ": vocab_size " + dv + " differs from the target's " + tv
                        + " and without both tokenizers their ids cannot be matched");
            }
            return tv;
        }
        if (t.vocabSize() != d.vocabSize()) {
            throw new MogeException("draft model " + draft.path + ": its tokenizer has " + d.vocabSize() + " pieces, the target's "
                    + t.vocabSize() + "; a draft must share the target's vocabulary");
        }
        for (int i = 0; i < t.vocabSize(); i++) {
            if (!t.piece(i).equals(d.piece(i))) {
                throw new MogeException("draft model " + draft.path + ": token " + i + " is '" + d.piece(i) + "' but the target's is '"
                        + t.piece(i) + "'; a draft must share the target's vocabulary");
            }
        }
        // A checkpoint may pad vocab_size past the tokenizer; propose only ids both models can score.
        return Math.min(tv, dv);
    }
}
