package moge.constrain;

import com.fasterxml.jackson.databind.JsonNode;
import moge.tokenizer.Tokenizer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The token masks of one model's vocabulary: the vocabulary's bytes and trie, built on first use, and the
 * masks of recently used schemas and grammars, so that requests repeating one (an application sends the same
 * one every time) reuse the states already walked. Thread-safe.
 */
public final class JsonConstraints {
    private static final int SCHEMAS = 8;

    private final Tokenizer tokenizer;
    private final int logits;
    private volatile TokenVocab vocab;
    private final Map<String, TokenMask> masks = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, TokenMask> e) {
            return size() > SCHEMAS;
        }
    };

    /** @param logits the width of the model's logits rows (may exceed the tokenizer's vocabulary) */
    public JsonConstraints(Tokenizer tokenizer, int logits) {
        this.tokenizer = tokenizer;
        this.logits = logits;
    }

    public TokenVocab vocab() {
        TokenVocab v = vocab;
        if (v == null) {
            synchronized (this) {
                if (vocab == null) vocab = TokenVocab.of(tokenizer, logits);
                v = vocab;
            }
        }
        return v;
    }

    /** The mask for any JSON object (JSON mode). */
    public TokenMask anyObject() {
        return cached("object", () -> new JsonMatcher(Schema.ANY_OBJECT));
    }

    /** The mask for {@code schema}; throws {@link SchemaException} outside the supported subset. */
    public TokenMask schema(JsonNode schema) {
        return cached("schema:" + schema.toString(), () -> new JsonMatcher(SchemaCompiler.compile(schema)));
    }

    /**
     * The mask for a GBNF grammar (llama.cpp's notation, {@link GbnfParser}); throws
     * {@link GbnfParser.GrammarException} naming the line and column of a malformed one.
     */
    public TokenMask grammar(String gbnf) {
        return cached("grammar:" + gbnf, () -> GrammarMatcher.parse(gbnf));
    }

    /** The cached mask of {@code key}, or a new one over the matcher built (outside the lock: it may throw). */
    private TokenMask cached(String key, Supplier<ByteMatcher> build) {
        synchronized (masks) {
            TokenMask m = masks.get(key);
            if (m != null) return m;
        }
        ByteMatcher matcher = build.get();
        TokenVocab v = vocab();
        synchronized (masks) {
            return masks.computeIfAbsent(key, k -> new TokenMask(matcher, v));
        }
    }
}
