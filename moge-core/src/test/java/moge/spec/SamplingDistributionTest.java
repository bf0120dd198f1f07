package moge.spec;

import moge.Fixtures;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.SpecStats;
import moge.generate.TokenListener;
import moge.model.Batch;
import moge.model.KvCache;
import moge.model.KvSequence;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.sample.Sampler;
import moge.sample.SamplerParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Speculative sampling must leave the output distribution exactly the target's. Over many seeded runs the
 * joint frequencies of the first generated tokens are compared by chi-square with the exact probabilities,
 * computed from the target alone with the same filters (temperature 1, top-k 4, so few cells). Drafts that
 * disagree with the target a lot (another model), a little (a quantized copy) and point-mass proposals
 * (n-gram, a greedy draft) are all checked; and the test is shown to reject a draft's own distribution.
 */
class SamplingDistributionTest {
    static final int CTX = 64;
    static final int RUNS = 5_000;
    /** Tokens generated per run; the first comes from the prefill, the next three from one round of k = 2. */
    static final int TOKENS = 4;
    static final int SKIP = 1;
    static LoadedModel target, other;
    static Model model, reference;

    @BeforeAll
    static void load() {
        target = ModelLoader.load(Fixtures.model("pangu-embedded-tiny"));
        other = ModelLoader.load(Fixtures.model("pangu-embedded-tiny-tied"));
        model = new Model(target.config, target.weights, 1, 8);
        reference = new Model(target.config, target.weights, 1, CTX);
    }

    @AfterAll
    static void close() {
        model.close();
        reference.close();
        target.close();
        other.close();
    }

    static SamplerParams params(long seed) {
        return new SamplerParams(1f, 4, 1f, 0f, 1f, 64, 0f, 0f, seed);
    }

    /** The filtered next-token distribution after {@code tokens}, from a fresh cache. */
    static float[] dist(Model m, int[] tokens) {
        KvSequence seq = KvCache.forContext(m.config, CTX, 1, 16).newSequence();
        Batch b = new Batch(tokens.length);
        for (int i = 0; i < tokens.length; i++) b.add(tokens[i], i, seq, i == tokens.length - 1);
        float[] logits = m.forward(b);
        return new Sampler(params(0), m.config.vocabSize()).distribution(logits, 0, tokens, tokens.length);
    }

    /**
     * Exact probabilities of the generated tokens SKIP .. TOKENS-1 (the first ones summed out), over every
     * sequence with positive probability.
     */
    static Map<List<Integer>, Double> exact(Model m, int[] prompt) {
        Map<List<Integer>, Double> full = new HashMap<>();
        expand(m, prompt, TOKENS, List.of(), 1.0, full);
        Map<List<Integer>, Double> out = new HashMap<>();
        full.forEach((k, v) -> out.merge(k.subList(SKIP, TOKENS), v, Double::sum));
        return out;
    }

    private static void expand(Model m, int[] ctx, int depth, List<Integer> seq, double p, Map<List<Integer>, Double> out) {
        if (seq.size() == depth) {
            out.put(seq, p);
            return;
        }
        float[] d = dist(m, ctx);
        for (int v = 0; v < d.length; v++) {
            if (d[v] <= 0) continue;
            int[] next = java.util.Arrays.copyOf(ctx, ctx.length + 1);
            next[ctx.length] = v;
            List<Integer> s = new java.util.ArrayList<>(seq);
            s.add(v);
            expand(m, next, depth, s, p * d[v], out);
        }
    }

    /** Runs {@code RUNS} seeded generations and tests their joint frequencies against the target's. */
    static ChiSquare run(Generator g, int[] prompt, Map<List<Integer>, Double> exact, long[] counters) {
        Map<List<Integer>, Integer> index = new HashMap<>();
        double[] probs = new double[exact.size() + 1];
        for (Map.Entry<List<Integer>, Double> e : exact.entrySet()) {
            probs[index.size()] = e.getValue();
            index.put(e.getKey(), index.size());
        }
        long[] observed = new long[probs.length];
        for (int run = 0; run < RUNS; run++) {
            GenerateOptions o = new GenerateOptions(TOKENS, params(run), new int[0], true, 0, false, List.of());
            GenerationResult r = g.generate(prompt, o, TokenListener.NONE);
            List<Integer> key = java.util.Arrays.stream(r.generatedIds()).skip(SKIP).boxed().toList();
            // A sequence the target cannot produce lands in the last cell, which expects nothing.
            observed[index.getOrDefault(key, probs.length - 1)]++;
            SpecStats st = r.speculation();
            if (st != null && counters != null) {
                counters[0] += st.drafted();
                counters[1] += st.accepted();
            }
        }
        return ChiSquare.test(observed, probs);
    }

    static int[] prompt() {
        SplittableRandom r = new SplittableRandom(17);
        int[] p = new int[10];
        for (int i = 0; i < p.length; i++) p[i] = 3 + r.nextInt(target.config.vocabSize() - 3);
        return p;
    }

    /**
     * A prompt in which each likely first token is followed by the target's favourite successor, so that
     * n-gram lookup proposes tokens the target may accept: pairs are put in front until they stop changing.
     */
    static int[] ngramPrompt() {
        int[] base = prompt(), p = base, pairs = new int[0];
        for (int iter = 0; iter < 10; iter++) {
            float[] d = dist(reference, p);
            int[] cand = java.util.stream.IntStream.range(0, d.length).filter(v -> d[v] > 0).toArray();
            int[] next = new int[2 * cand.length];
            for (int i = 0; i < cand.length; i++) {
                int[] q = java.util.Arrays.copyOf(p, p.length + 1);
                q[p.length] = cand[i];
                float[] dq = dist(reference, q);
                next[2 * i] = cand[i];
                next[2 * i + 1] = Sampler.argmax(dq, 0, dq.length);
            }
            if (java.util.Arrays.equals(next, pairs)) break;
            pairs = next;
            p = java.util.stream.IntStream.concat(java.util.Arrays.stream(pairs), java.util.Arrays.stream(base)).toArray();
        }
        return p;
    }

    private void checkSource(DraftSource src, int[] prompt, int k, boolean mustAccept) {
        Map<List<Integer>, Double> exact = exact(reference, prompt);
        double total = exact.values().stream().mapToDouble(Double::doubleValue).sum();
        assertThat(total).isCloseTo(1.0, within(1e-4));
        long[] counters = new long[2];
        try (SpeculativeDecoder d = new SpeculativeDecoder(src, target.config.vocabSize(), 1, k, false)) {
            Generator g = SpecHarness.speculative(model, target, d, CTX);
            ChiSquare x = run(g, prompt, exact, counters);
            assertThat(x.pValue).as(src.name() + " " + x).isGreaterThan(1e-3);
        }
        // The test is only meaningful if proposals were both accepted and rejected.
        assertThat(counters[0]).as(src.name() + " drafted").isGreaterThan(RUNS / 2);
        assertThat(counters[1]).as(src.name() + " accepted").isLessThan(counters[0]);
        if (mustAccept) assertThat(counters[1]).as(src.name() + " accepted").isGreaterThan(counters[0] / 20);
    }

    @Test
    void anotherModelAsDraft() {
        Model dm = new Model(other.config, other.weights, model.team(), model.maxBatch());
        int shared = ModelDraft.sharedVocab(target, other);
        // Its favourite tokens are rarely the target's: this mostly exercises the residual draws.
        checkSource(new ModelDraft(dm, CTX, shared, target.config.vocabSize(), "other"), prompt(), 2, false);
    }

    @Test
    void quantizedCopyAsDraft() {
        checkSource(SpecHarness.Source.SELF_Q4_0.open(target, model, CTX), prompt(), 2, true);
    }

    @Test
    void pointMassProposals() {
        checkSource(new NgramDraft(1, 2), ngramPrompt(), 2, true);
        // A draft model proposing its argmax is a deterministic source too (here the target's own argmax).
        Model dm = new Model(target.config, target.weights, model.team(), model.maxBatch());
        ModelDraft greedy = new ModelDraft(dm, CTX, target.config.vocabSize(), target.config.vocabSize(), "argmax");
        checkSource(new DraftSource() {
            @Override
            public int propose(int[] history, int len, int max, Proposal out) {
                return greedy.propose(history, len, max, out);
            }

            @Override
            public String name() {
                return "argmax";
            }

            @Override
            public boolean deterministic() {
                return true;
            }

            @Override
            public void close() {
                greedy.close();
            }
        }, prompt(), 2, true);
    }

    @Test
    void rejectsADifferentDistribution() {
        // Plain sampling from the other model, scored against the target: must fail, or the test has no power.
        int[] p = prompt();
        try (Model om = new Model(other.config, other.weights, 1, 8)) {
            Generator g = new Generator(om, null, KvCache.forContext(om.config, CTX, 1, 16).newSequence(), CTX);
            ChiSquare x = run(g, p, exact(reference, p), null);
            assertThat(x.pValue).as(x.toString()).isLessThan(1e-6);
        }
    }

    @Test
    void chiSquareTailMatchesTables() {
        assertThat(ChiSquare.upperGamma(0.5, 3.841 / 2)).isCloseTo(0.05, within(1e-4));
        assertThat(ChiSquare.upperGamma(5, 18.307 / 2)).isCloseTo(0.05, within(1e-4));
        assertThat(ChiSquare.upperGamma(32, 83.675 / 2)).isCloseTo(0.05, within(1e-4));
        assertThat(ChiSquare.upperGamma(2, 0.5)).isCloseTo(Math.exp(-0.5) * 1.5, within(1e-12));
    }
}
