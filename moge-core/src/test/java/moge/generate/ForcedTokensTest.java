package moge.generate;

import moge.Fixtures;
import moge.MogeException;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** A decode policy's forced tokens are fed to the model, streamed and reported like sampled ones. */
class ForcedTokensTest {
    /** Forces the given ids at the first positions, then lets the sampler choose; records what it saw. */
    static final class ForceFirst implements DecodePolicy {
        final int[] ids;
        int next;
        final List<String> seen = new ArrayList<>();

        ForceFirst(int... ids) {
            this.ids = ids;
        }

        public int forcedToken() {
            return next < ids.length ? ids[next++] : SAMPLE;
        }

        public void accepted(int id, boolean forced) {
            seen.add(id + (forced ? "f" : "s"));
        }
    }

    @Test
    void forcedTokensContinueExactlyLikeAPromptThatContainsThem() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-moe-tiny")); Model m = new Model(lm.config, lm.weights, 1, 8)) {
            int[] prompt = lm.tokenizer.encodePrompt("The numbers are");
            int[] forced = {700, 31, 1001};
            GenerateOptions o = GenerateOptions.greedy(9, new int[0]).withIgnoreEos(true);
            Generator g = new Generator(m, lm.tokenizer, KvCache.forContext(lm.config, 64, 1, 16).newSequence(), 64);
            ForceFirst policy = new ForceFirst(forced);
            List<String> streamed = new ArrayList<>();
            GenerationResult a = g.generate(prompt, o, (id, text, step) -> streamed.add(text), policy);

            int[] longer = Arrays.copyOf(prompt, prompt.length + forced.length);
            System.arraycopy(forced, 0, longer, prompt.length, forced.length);
            Generator fresh = new Generator(m, lm.tokenizer, KvCache.forContext(lm.config, 64, 1, 16).newSequence(), 64);
            GenerationResult b = fresh.generate(longer, GenerateOptions.greedy(6, new int[0]).withIgnoreEos(true), TokenListener.NONE);
            GenerationResult plain = fresh.generate(prompt, GenerateOptions.greedy(1, new int[0]).withIgnoreEos(true), TokenListener.NONE);

            assertThat(Arrays.copyOf(a.generatedIds(), 3)).containsExactly(forced);
            assertThat(Arrays.copyOfRange(a.generatedIds(), 3, 9)).containsExactly(b.generatedIds());
            for (int i = 0; i < 6; i++) {
                assertThat(a.steps().get(3 + i).logprob()).isCloseTo(b.steps().get(i).logprob(), within(1e-4));
                assertThat(a.steps().get(3 + i).pos()).isEqualTo(b.steps().get(i).pos());
            }
            // the forced step reports the forced id with its probability under the model, alternatives unchanged
            Step s0 = a.steps().getFirst();
            assertThat(s0.id()).isEqualTo(700);
            assertThat(s0.topIds()).containsExactly(plain.steps().getFirst().topIds());
            assertThat(s0.logprob()).isLessThanOrEqualTo(s0.topLogprobs()[0]);
            assertThat(policy.seen).startsWith("700f", "31f", "1001f").hasSize(9);
            assertThat(policy.seen.get(3)).endsWith("s");
            assertThat(String.join("", streamed)).isEqualTo(a.text());
        }
    }

    @Test
    void aForcedStopTokenEndsTheGenerationAndBadIdsAreRejected() {
        try (LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-moe-tiny")); Model m = new Model(lm.config, lm.weights, 1, 8)) {
            int eos = lm.tokenizer.special().eos();
            Generator g = new Generator(m, lm.tokenizer, KvCache.forContext(lm.config, 64, 1, 16).newSequence(), 64);
            int[] prompt = lm.tokenizer.encodePrompt("x");
            GenerationResult r = g.generate(prompt, GenerateOptions.greedy(10, new int[]{eos}), TokenListener.NONE, new ForceFirst(5, eos));
            assertThat(r.generatedIds()).containsExactly(5, eos);
            assertThat(r.finishReason()).isEqualTo("stop");
            assertThatThrownBy(() -> g.generate(prompt, GenerateOptions.greedy(3, new int[0]), TokenListener.NONE, new ForceFirst(1280)))
                    .isInstanceOf(MogeException.class).hasMessageContaining("1280");
        }
    }
}
