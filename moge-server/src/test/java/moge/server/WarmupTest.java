package moge.server;

import moge.generate.GenerateOptions;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class WarmupTest {
    @Test
    void runsWithinSmallContextsAndBatchesAndLeavesTheModelAsItWas() {
        try (LoadedModel lm = ModelLoader.load(TestEngines.TINY); Model m = new Model(lm.config, lm.weights, 2, 8)) {
            int[] prompt = lm.tokenizer.encodePrompt("The weather today");
            GenerateOptions o = GenerateOptions.greedy(8, new int[0]);
            int[] before = new Generator(m, lm.tokenizer, 64).generate(prompt, o, TokenListener.NONE).generatedIds();
            for (int ctx : new int[]{1, 5, 30, 200}) {
                for (int batch : new int[]{1, 3, 8}) assertThat(Warmup.run(m, lm.config.vocabSize(), ctx, batch)).isNotNegative();
            }
            assertThat(new Generator(m, lm.tokenizer, 64).generate(prompt, o, TokenListener.NONE).generatedIds()).isEqualTo(before);
        }
    }
}
