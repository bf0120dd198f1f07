package moge.constrain;

import moge.Fixtures;
import moge.tokenizer.SentencePieceTokenizer;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What masking costs per generated token: a random walk through allowed tokens (each step asks the tracker for
 * the mask over the whole vocabulary, as the sampler does), on the demo model's vocabulary and on a synthetic
 * 150k one (no test tokenizer of that size is shipped). Prints the numbers; the bound is loose, a guard against
 * a walk that stops being cached, not a benchmark.
 */
class TokenMaskOverheadTest {
    static final String SCHEMA = """
            {"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},
             "n":{"type":"number"},"ok":{"type":"boolean"},"child":{"type":"object","properties":{"v":{"enum":["a","b"]}}}},
             "required":["name","tags","n","ok"]}""";

    @Test
    void demoVocabulary() {
        SentencePieceTokenizer t = SentencePieceTokenizer.loadHf(Fixtures.ROOT.getParent().getParent().resolve("models/demo"));
        TokenVocab v = TokenVocab.of(t, t.vocabSize());
        double[] r = measure(v, t.eosIds(), 400);
        System.out.printf("demo vocabulary (%d ids, %d trie nodes): %.1f us per token (first use), %.1f us (schema reused), %.0f%% cached%n",
                v.size(), v.trieNodes(), r[0], r[1], r[2]);
        assertThat(r[1]).isLessThan(5_000);
    }

    @Test
    void syntheticVocabularyOf150k() {
        byte[][] tokens = TokenMaskTest.randomVocab(150_000, 3);
        long t0 = System.nanoTime();
        TokenVocab v = new TokenVocab(tokens, 151_936);
        double build = (System.nanoTime() - t0) / 1e6;
        double[] r = measure(v, new int[]{150_000}, 400);
        System.out.printf("synthetic vocabulary (%d ids, %d trie nodes, built in %.0f ms): %.1f us per token (first use), %.1f us (schema reused), %.0f%% cached%n",
                v.size(), v.trieNodes(), build, r[0], r[1], r[2]);
        assertThat(r[1]).isLessThan(50_000);
    }

    /** The same walk under a GBNF grammar of the same shape (the parse stacks as state instead of the JSON frames). */
    static final String GRAMMAR = """
            root  ::= "{" ws "\\"name\\":" ws str "," ws "\\"tags\\":" ws "[" ws (str ("," ws str)*)? "]" "," ws "\\"n\\":" ws num "," ws "\\"ok\\":" ws ("true" | "false") "}"
            str   ::= "\\"" [^"\\\\\\x00-\\x1F]* "\\""
            num   ::= "-"? [0-9]{1,16} ("." [0-9]{1,16})?
            ws    ::= " "?
            """;

    @Test
    void grammarOnBothVocabularies() {
        SentencePieceTokenizer t = SentencePieceTokenizer.loadHf(Fixtures.ROOT.getParent().getParent().resolve("models/demo"));
        TokenVocab demo = TokenVocab.of(t, t.vocabSize());
        double[] r = measure(demo, t.eosIds(), 400, GrammarMatcher.parse(GRAMMAR));
        System.out.printf("grammar, demo vocabulary: %.1f us per token (first use), %.1f us (reused), %.0f%% cached%n", r[0], r[1], r[2]);
        assertThat(r[1]).isLessThan(5_000);
        TokenVocab big = new TokenVocab(TokenMaskTest.randomVocab(150_000, 3), 151_936);
        r = measure(big, new int[]{150_000}, 400, GrammarMatcher.parse(GRAMMAR));
        System.out.printf("grammar, synthetic 150k vocabulary: %.1f us per token (first use), %.1f us (reused), %.0f%% cached%n", r[0], r[1], r[2]);
        assertThat(r[1]).isLessThan(50_000);
    }

    private static double[] measure(TokenVocab v, int[] ends, int steps) {
        return measure(v, ends, steps, new JsonMatcher(SchemaCompiler.compile(JsonMatcherTest.json(SCHEMA))));
    }

    /** Mean microseconds per masked step, first and second run of the same walk, and the share of cache hits. */
    private static double[] measure(TokenVocab v, int[] ends, int steps, ByteMatcher matcher) {
        double[] out = new double[3];
        TokenMask mask = new TokenMask(matcher, v);
        for (int round = 0; round < 2; round++) {
            OutputConstraint.Tracker tr = OutputConstraint.plain(mask).track(1, ends);
            Random rnd = new Random(42);
            int[] h = new int[steps + 2];
            float[] logits = new float[v.size()];
            int len = 1, done = 0;
            long nanos = 0;
            while (done < steps) {
                java.util.Arrays.fill(logits, 0f);
                long t0 = System.nanoTime();
                tr.apply(logits, v.size(), h, len);
                nanos += System.nanoTime() - t0;
                done++;
                // prefer short tokens a little less than a model would; any allowed one will do
                int pick = -1, seen = 0;
                for (int id = 0; id < v.size(); id++) {
                    if (logits[id] == 0f && rnd.nextInt(++seen) == 0) pick = id;
                }
                if (contains(ends, pick) || len + 1 >= h.length) {
                    len = 1; // the JSON is done: start another
                    continue;
                }
                h[len++] = pick;
            }
            out[round] = nanos / 1e3 / steps;
        }
        long[] s = mask.stats();
        out[2] = 100.0 * s[0] / (s[0] + s[1]);
        return out;
    }

    private static boolean contains(int[] a, int x) {
        for (int v : a) if (v == x) return true;
        return false;
    }
}
