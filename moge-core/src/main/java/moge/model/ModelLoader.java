package moge.model;

import moge.MogeException;
import moge.chat.ChatTemplate;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.tokenizer.HfTokenizerLoader;
import moge.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a model from a Hugging Face directory (or, later, a GGUF file) with its tokenizer. */
public final class ModelLoader {
    private ModelLoader() {
    }

    /**
     * @param router     null keeps the model's own router (MoGE for Pangu Pro MoE)
     * @param keepExpert which routed experts to map (null = all)
     */
    public static LoadedModel load(Path path, RouterKind router, boolean[] keepExpert) {
        if (!Files.exists(path)) throw new MogeException(path + ": no such file or directory");
        if (!HfCheckpoint.looksLike(path)) {
            throw new MogeException(path + ": not a model (expected a directory with config.json and safetensors, or a .gguf file)");
        }
        HfCheckpoint ck = HfCheckpoint.open(path);
        try {
            ModelConfig c = HfConfig.read(ck.config(), path.resolve("config.json"));
            if (router != null && c.hasExperts()) c = c.withRouter(router);
            Weights w = HfWeightLoader.load(ck, c, keepExpert);
            Tokenizer tok = Files.isRegularFile(path.resolve("tokenizer.model")) ? HfTokenizerLoader.load(path) : null;
            if (tok != null && tok.vocabSize() > c.vocabSize()) {
                throw new MogeException(path.resolve("tokenizer.model") + ": " + tok.vocabSize()
                        + " pieces but the model's vocab_size is " + c.vocabSize());
            }
            ChatTemplate template = tok != null ? ChatTemplate.load(path, tok) : ChatTemplate.openPangu();
            return new LoadedModel(path, c, w, tok, template, ck);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    public static LoadedModel load(Path path) {
        return load(path, null, null);
    }
}
