package moge.model;

import moge.MogeException;
import moge.chat.ChatTemplate;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.format.gguf.GgufFile;
import moge.format.gguf.GgufModelConfig;
import moge.format.gguf.GgufTokenizers;
import moge.format.gguf.GgufWeightLoader;
import moge.tensor.Kernels;
import moge.tokenizer.HfTokenizerLoader;
import moge.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a model from a Hugging Face directory or a GGUF file, with its tokenizer and chat template. */
public final class ModelLoader {
    private ModelLoader() {
    }

    /**
     * @param router     null keeps the model's own router (MoGE for Pangu Pro MoE)
     * @param keepExpert which routed experts to map (null = all)
     */
    public static LoadedModel load(Path path, RouterKind router, boolean[] keepExpert) {
        Kernels.warmUpInBackground();
        ModelDescription d = describe(path, router);
        try {
            ModelConfig c = d.config();
            Weights w = d.source() instanceof GgufFile f ? GgufWeightLoader.load(f, c, keepExpert)
                    : HfWeightLoader.load((HfCheckpoint) d.source(), c, keepExpert);
            return new LoadedModel(path, c, w, d.tokenizer(), d.chatTemplate(), d.source());
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /** Opens a model's configuration, tokenizer and chat template without loading its weights. */
    public static ModelDescription describe(Path path, RouterKind router) {
        if (!Files.exists(path)) throw new MogeException(path + ": no such file or directory");
        if (GgufFile.looksLike(path)) return describeGguf(path, router);
        if (!HfCheckpoint.looksLike(path)) {
            throw new MogeException(path + ": not a model (expected a directory with config.json and safetensors, or a .gguf file)");
        }
        HfCheckpoint ck = HfCheckpoint.open(path);
        try {
            ModelConfig c = HfConfig.read(ck.config(), path.resolve("config.json"));
            if (router != null && c.hasExperts()) c = c.withRouter(router);
            Tokenizer tok = Files.isRegularFile(path.resolve("tokenizer.model")) ? HfTokenizerLoader.load(path) : null;
            if (tok != null && tok.vocabSize() > c.vocabSize()) {
                throw new MogeException(path.resolve("tokenizer.model") + ": " + tok.vocabSize()
                        + " pieces but the model's vocab_size is " + c.vocabSize());
            }
            ChatTemplate template = tok != null ? ChatTemplate.load(path, tok) : ChatTemplate.openPangu();
            return new ModelDescription(path, c, tok, template, ck);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    private static ModelDescription describeGguf(Path path, RouterKind router) {
        GgufFile f = GgufFile.open(path);
        try {
            ModelConfig c = GgufModelConfig.read(f);
            if (router != null && c.hasExperts()) c = c.withRouter(router);
            Tokenizer tok = GgufTokenizers.load(f);
            if (tok != null && tok.vocabSize() > c.vocabSize()) {
                throw new MogeException(path + ": " + tok.vocabSize() + " tokens but token_embd has " + c.vocabSize() + " rows");
            }
            return new ModelDescription(path, c, tok, GgufTokenizers.chatTemplate(f, tok, c.arch()), f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    public static LoadedModel load(Path path) {
        return load(path, null, null);
    }
}
