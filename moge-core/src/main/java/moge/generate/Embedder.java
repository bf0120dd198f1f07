package moge.generate;

import moge.MogeException;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.Model;

import java.util.Locale;

/**
 * Text embeddings from a causal model, as llama.cpp's embedding mode and vLLM's pooling runner give them: the
 * final hidden states (after the last norm) of a prompt, pooled into one vector and scaled to unit length.
 * Decoder embedding models (Qwen3-Embedding, e5-mistral, gte-Qwen2) read the last token, whose state has seen the
 * whole text; {@link Pooling#MEAN} averages every position, {@link Pooling#CLS} takes the first.
 * <p>
 * Runs on a model of its own (sharing the weights) with a cache for one sequence, so that it never touches the
 * state of a scheduler's model; calls are serialized.
 */
public final class Embedder implements AutoCloseable {
    /** How the positions' states become one vector; the GGUF key {@code ARCH.pooling_type} numbers them 1, 2, 3. */
    public enum Pooling {
        MEAN, CLS, LAST;

        public static Pooling parse(String s) {
            try {
                return valueOf(s.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new MogeException("pooling must be mean, cls or last, got '" + s + "'");
            }
        }

        /** llama.cpp's enum llama_pooling_type (1 mean, 2 cls, 3 last); null for none (0), rank (4) or unknown. */
        public static Pooling fromGguf(long type) {
            return type == 1 ? MEAN : type == 2 ? CLS : type == 3 ? LAST : null;
        }
    }

    /**
     * How a loaded model's texts become embeddings: the pooling (its GGUF's {@code ARCH.pooling_type} unless given,
     * else {@link Pooling#LAST}), and the end token closing each input when the GGUF says
     * {@code tokenizer.ggml.add_eos_token} (Qwen3-Embedding's files do; -1: none).
     */
    public record Setup(Pooling pooling, int eos) {
        public static Setup of(moge.model.LoadedModel lm, Pooling override) {
            moge.format.gguf.GgufMetadata md = lm.source() instanceof moge.format.gguf.GgufFile g ? g.metadata() : null;
            Pooling fromFile = null;
            int eos = -1;
            if (md != null) {
                String key = md.string("general.architecture", "") + ".pooling_type";
                if (md.has(key)) fromFile = Pooling.fromGguf(md.integer(key));
                int[] ends = lm.tokenizer == null ? new int[0] : lm.tokenizer.eosIds();
                if (md.bool("tokenizer.ggml.add_eos_token", false) && ends.length > 0) eos = ends[0];
            }
            return new Setup(override != null ? override : fromFile != null ? fromFile : Pooling.LAST, eos);
        }

        /** A text as the embedder's input: tokenized as a prompt (BOS as the model's prompts have it), then the end token. */
        public int[] tokens(moge.tokenizer.Tokenizer tok, String text) {
            int[] ids = tok.encodePrompt(text);
            if (eos < 0 || (ids.length > 0 && ids[ids.length - 1] == eos)) return ids;
            int[] with = java.util.Arrays.copyOf(ids, ids.length + 1);
            with[ids.length] = eos;
            return with;
        }
    }

    private final Model model;
    private final int context;
    private final Pooling pooling;
    private final KvCache cache;
    private final Batch batch;
    private final float[] hidden;

    /** @param model a model of the embedder's own (it runs batches on it); closed with the embedder */
    public Embedder(Model model, int context, Pooling pooling) {
        this(model, model.newCache(context, 1), context, pooling);
    }

    /** As above, with a cache that others may use between calls (each call takes one sequence and frees it). */
    public Embedder(Model model, KvCache cache, int context, Pooling pooling) {
        this.model = model;
        this.context = context;
        this.pooling = pooling;
        this.cache = cache;
        this.batch = new Batch(model.maxBatch());
        this.hidden = new float[model.maxBatch() * model.config.hidden()];
    }

    public Pooling pooling() {
        return pooling;
    }

    public int dimensions() {
        return model.config.hidden();
    }

    public int context() {
        return context;
    }

    /** The unit-length embedding of a prompt of 1 to {@link #context()} token ids. */
    public synchronized float[] embed(int[] ids) {
        if (ids.length == 0) throw new MogeException("nothing to embed: the input has no tokens");
        if (ids.length > context) {
            throw new MogeException("the input is " + ids.length + " tokens long, more than the context of " + context + " tokens");
        }
        int H = model.config.hidden(), step = model.maxBatch();
        double[] sum = new double[H];
        KvSequence seq = cache.newSequence();
        try {
            for (int p0 = 0; p0 < ids.length; p0 += step) {
                int n = Math.min(step, ids.length - p0);
                batch.clear();
                for (int i = 0; i < n; i++) batch.add(ids[p0 + i], p0 + i, seq, false);
                model.hidden(batch, hidden);
                for (int i = 0; i < n; i++) {
                    int p = p0 + i;
                    boolean take = pooling == Pooling.MEAN || (pooling == Pooling.CLS && p == 0) || (pooling == Pooling.LAST && p == ids.length - 1);
                    if (take) for (int j = 0; j < H; j++) sum[j] += hidden[i * H + j];
                }
            }
        } finally {
            seq.release();
        }
        return unit(sum);
    }

    /**
     * The first {@code dims} values of a unit vector at unit length again (Matryoshka-trained models keep their
     * meaning in a prefix); all of them: the vector as it is.
     */
    public static float[] truncated(float[] v, int dims) {
        if (dims < 1 || dims > v.length) throw new MogeException("dimensions must be between 1 and " + v.length + ", got " + dims);
        if (dims == v.length) return v;
        double[] head = new double[dims];
        for (int i = 0; i < dims; i++) head[i] = v[i];
        return unit(head);
    }

    /** The vector scaled to length 1 (a zero vector stays zero), as OpenAI's and llama-server's embeddings are. */
    static float[] unit(double[] v) {
        double norm = 0;
        for (double x : v) norm += x * x;
        double s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (float) (v[i] * s);
        return out;
    }

    @Override
    public void close() {
        model.close();
    }
}
