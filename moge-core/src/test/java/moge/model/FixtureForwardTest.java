package moge.model;

import com.fasterxml.jackson.databind.JsonNode;
import moge.Fixtures;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.Step;
import moge.generate.TokenListener;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Every shared fixture: given its prompt ids, the greedy ids and top-5 log-probs must match the reference. */
class FixtureForwardTest {

    static List<Path> expected() {
        return Fixtures.expectedFiles();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("expected")
    void reproducesFixture(Path file) {
        JsonNode exp = Fixtures.read(file);
        Path dir = Fixtures.model(exp.get("model_dir").asText());
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = HfConfig.read(ck.config(), dir.resolve("config.json"));
            Weights w = HfWeightLoader.load(ck, c, null);
            int[] prompt = Fixtures.ints(exp.get("prompt_ids"));
            int[] gen = Fixtures.ints(exp.get("generated_ids"));
            for (int threads : new int[]{1, 2}) {
                for (int maxBatch : new int[]{1, 7, 64}) {
                    try (Model m = new Model(c, w, threads, maxBatch)) {
                        KvCache cache = KvCache.forContext(c, 128, 1, 16);
                        Generator g = new Generator(m, null, cache.newSequence(), 128);
                        boolean promptSteps = exp.has("prompt_steps");
                        GenerateOptions o = GenerateOptions.greedy(gen.length, new int[0]).withIgnoreEos(true)
                                .withPromptLogprobs(promptSteps);
                        GenerationResult r = g.generate(prompt, o, TokenListener.NONE);
                        String where = file.getFileName() + " threads=" + threads + " batch=" + maxBatch;
                        assertThat(r.generatedIds()).as(where).containsExactly(gen);
                        compareSteps(where, exp.get("steps"), r.steps());
                        if (promptSteps) compareSteps(where + " prompt", exp.get("prompt_steps"), r.promptSteps());
                    }
                }
            }
        }
    }

    private static void compareSteps(String where, JsonNode expSteps, List<Step> got) {
        assertThat(got).as(where).hasSize(expSteps.size());
        for (int i = 0; i < got.size(); i++) {
            JsonNode e = expSteps.get(i);
            Step s = got.get(i);
            assertThat(s.pos()).as(where + " pos").isEqualTo(e.get("pos").asInt());
            assertThat(s.logprob()).as(where + " step " + i + " logprob").isCloseTo(e.get("logprob").asDouble(), within(1e-3));
            JsonNode top = e.get("top");
            for (int j = 0; j < top.size(); j++) {
                assertThat(s.topIds()[j]).as(where + " step " + i + " top " + j).isEqualTo(top.get(j).get(0).asInt());
                assertThat(s.topLogprobs()[j]).as(where + " step " + i + " top lp " + j).isCloseTo(top.get(j).get(1).asDouble(), within(1e-3));
            }
        }
    }
}
