package moge.thinking;

import moge.Fixtures;
import moge.chat.ChatTemplate;
import moge.generate.Generator;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;

/** pangu-embedded-tiny ready to generate: random weights, [unused16]=21, [unused17]=22, EOS [unused10]. */
final class FixtureModel implements AutoCloseable {
    final LoadedModel lm = ModelLoader.load(Fixtures.model("pangu-embedded-tiny"));
    final Model model = new Model(lm.config, lm.weights, 1, 16);
    final ThinkProtocol protocol = ThinkProtocol.of(lm.tokenizer);

    Generator generator() {
        return new Generator(model, lm.tokenizer, KvCache.forContext(lm.config, 256, 1, 16).newSequence(), 256);
    }

    ThinkingRunner runner(ChatTemplate template) {
        return new ThinkingRunner(generator(), lm.tokenizer, template);
    }

    @Override
    public void close() {
        model.close();
        lm.close();
    }
}
