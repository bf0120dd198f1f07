package moge.server;

import moge.Fixtures;
import moge.chat.ChatMessage;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.KvCache;
import moge.model.KvType;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;
import moge.sample.SamplerParams;
import moge.tokenizer.TextMode;

import java.nio.file.Path;
import java.util.List;

/** The tiny MoGE fixture as a server engine, and the same model run one request at a time as the reference. */
public final class TestEngines {
    public static final Path TINY = Fixtures.model("pangu-moe-tiny");

    private TestEngines() {
    }

    public static MogeServer.Engine engine(int maxBatch) {
        LoadedModel lm = ModelLoader.load(TINY);
        return new MogeServer.Engine(lm, new Model(lm.config, lm.weights, 2, maxBatch));
    }

    /** A server on a free loopback port. */
    public static MogeServer start(ServerOptions o) {
        return MogeServer.start(o.host("127.0.0.1").port(0), engine(o.batchTokens));
    }

    /** The shipped demo model (models/demo): trained, so its answers have words, think blocks and arithmetic. */
    public static final Path DEMO = Fixtures.ROOT.getParent().getParent().resolve("models/demo");

    /** A server of the demo model on a free loopback port. */
    public static MogeServer startDemo(ServerOptions o) {
        LoadedModel lm = ModelLoader.load(DEMO);
        return MogeServer.start(o.host("127.0.0.1").port(0), new MogeServer.Engine(lm, new Model(lm.config, lm.weights, 2, o.batchTokens)));
    }

    /** Runs requests alone, greedily, through the core generator (no scheduler, no batching, no prefix cache). */
    public static final class Reference implements AutoCloseable {
        public final LoadedModel lm = ModelLoader.load(TINY);
        private final Model model = new Model(lm.config, lm.weights, 1, 64);

        public GenerationResult ids(int[] prompt, int maxTokens, List<String> stop) {
            return ids(prompt, maxTokens, stop, KvType.F32);
        }

        public GenerationResult ids(int[] prompt, int maxTokens, List<String> stop, KvType kv) {
            return run(prompt, maxTokens, SamplerParams.greedy(), stop, kv, TextMode.CHAT);
        }

        /** A raw completion's reference: the text continues the prompt's ({@link TextMode#CONTINUATION}). */
        public GenerationResult continuation(int[] prompt, int maxTokens, List<String> stop) {
            return run(prompt, maxTokens, SamplerParams.greedy(), stop, KvType.F32, TextMode.CONTINUATION);
        }

        /** As {@link #continuation(int[], int, List)}, under other sampler settings (a logit bias). */
        public GenerationResult continuation(int[] prompt, int maxTokens, SamplerParams sampler) {
            return run(prompt, maxTokens, sampler, List.of(), KvType.F32, TextMode.CONTINUATION);
        }

        /** A chat reply's reference under other sampler settings. */
        public GenerationResult chat(int[] prompt, int maxTokens, SamplerParams sampler) {
            return run(prompt, maxTokens, sampler, List.of(), KvType.F32, TextMode.CHAT);
        }

        private GenerationResult run(int[] prompt, int maxTokens, SamplerParams sampler, List<String> stop, KvType kv, TextMode mode) {
            KvCache cache = KvCache.forContext(lm.config, prompt.length + maxTokens + 1, 1, 16, kv);
            Generator g = new Generator(model, lm.tokenizer, cache.newSequence(), prompt.length + maxTokens + 1);
            GenerateOptions o = new GenerateOptions(maxTokens, sampler, lm.tokenizer.eosIds(), false, 0, false, stop, mode);
            return g.generate(prompt, o, TokenListener.NONE);
        }

        public int[] chatPrompt(List<ChatMessage> messages) {
            return lm.tokenizer.encodePrompt(lm.chatTemplate.render(messages, true));
        }

        public int[] textPrompt(String text) {
            return lm.tokenizer.encodePrompt(text);
        }

        @Override
        public void close() {
            model.close();
            lm.close();
        }
    }
}
