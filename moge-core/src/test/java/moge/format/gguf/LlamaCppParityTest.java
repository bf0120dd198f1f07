package moge.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import moge.Fixtures;
import moge.MogeException;
import moge.format.DType;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.Step;
import moge.generate.TokenListener;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * moge against llama.cpp on the same GGUF files (pangu-embedded, qwen3, qwen3moe, llama; F32 and Q8_0),
 * using outputs recorded once with scripts/gguf-oracle/oracle.mjs: tokenization of varied texts, top-5
 * next-token log-probs at every prompt position, and the greedy continuation.
 */
class LlamaCppParityTest {
    @TempDir
    Path tmp;

    static List<JsonNode> cases() {
        List<JsonNode> out = new ArrayList<>();
        Fixtures.read(Fixtures.ROOT.resolveSibling("gguf").resolve("llama-cpp-expected.json")).forEach(out::add);
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesLlamaCpp(JsonNode exp) {
        String name = exp.get("name").asText();
        DType type = DType.valueOf(exp.get("type").asText());
        Path file = LlamaCppOracle.write(tmp, name, type);
        try (GgufFile f = GgufFile.open(file)) {
            GgufWeightLoader.check(f, GgufModelConfig.read(f)); // shapes and metadata, with or without kernels
        }
        LoadedModel lm;
        try {
            lm = ModelLoader.load(file);
        } catch (MogeException e) {
            // Quantized matrices need the kernels of moge.tensor; until they exist only the F32 files run.
            Assumptions.assumeTrue(type == DType.F32, "no kernels for " + type + ": " + e.getMessage());
            throw e;
        }
        try (lm) {
            for (JsonNode t : exp.get("tokenized")) {
                int[] want = Fixtures.ints(t.get("ids"));
                String text = t.get("text").asText();
                assertThat(lm.tokenizer.encode(text)).as(name + " tokenizes " + text).containsExactly(want);
                assertThat(lm.tokenizer.decode(want)).as(name + " decodes " + text).isEqualTo(text);
            }
            int[] prompt = Fixtures.ints(exp.get("prompt"));
            int[] gen = Fixtures.ints(exp.get("generated"));
            // Quantized files: llama.cpp also quantizes the activations to Q8_0 for its dot products, moge keeps them
            // in float, so log-probs differ by that rounding: compared on average and at the worst position.
            boolean exact = type == DType.F32;
            double tol = exact ? 1e-4 : 0.25;
            try (Model m = new Model(lm.config, lm.weights, 2, 5)) {
                KvCache cache = KvCache.forContext(lm.config, 64, 1, 16);
                Generator g = new Generator(m, lm.tokenizer, cache.newSequence(), 64);
                GenerationResult r = g.generate(prompt, GenerateOptions.greedy(gen.length, new int[0]).withIgnoreEos(true)
                        .withPromptLogprobs(true), TokenListener.NONE);
                assertThat(r.generatedIds()).as(name + " greedy").containsExactly(gen);
                JsonNode steps = exp.get("prompt_steps");
                List<Step> got = r.promptSteps();
                int checked = 0;
                double sum = 0, worst = 0;
                for (JsonNode s : steps) {
                    int pos = s.get("pos").asInt();
                    Step st = got.stream().filter(x -> x.pos() == pos).findFirst().orElse(null);
                    if (st == null) continue;
                    JsonNode top = s.get("top");
                    double margin = top.get(0).get(1).asDouble() - top.get(1).get(1).asDouble();
                    if (margin > (exact ? 2 * tol : 0.1)) {
                        assertThat(st.topIds()[0]).as(name + " top id at " + pos).isEqualTo(top.get(0).get(0).asInt());
                    }
                    for (int j = 0; j < top.size(); j++) {
                        int id = top.get(j).get(0).asInt();
                        double lp = top.get(j).get(1).asDouble();
                        for (int q = 0; q < st.topIds().length; q++) {
                            if (st.topIds()[q] == id) {
                                double d = Math.abs(st.topLogprobs()[q] - lp);
                                assertThat(d).as(name + " logprob of " + id + " at " + pos).isLessThan(tol);
                                sum += d;
                                worst = Math.max(worst, d);
                                checked++;
                            }
                        }
                    }
                }
                if (!exact) {
                    System.out.printf("llama.cpp parity %s %s: mean |d logprob| %.4f, max %.4f over %d%n", name, type, sum / checked, worst, checked);
                    assertThat(sum / checked).as(name + " mean |d logprob|").isLessThan(0.06);
                }
                assertThat(checked).as("log-probs compared").isGreaterThan(steps.size() * 3);
            }
        }
    }
}
