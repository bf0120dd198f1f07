package moge.model;

import moge.MogeException;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.format.gguf.GgufFile;
import moge.format.gguf.GgufModelConfig;
import moge.format.gguf.GgufTokenizers;
import moge.format.gguf.GgufWeightLoader;
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
        if (!Files.exists(path)) throw new MogeException(path + ": no such file or directory");
        if (GgufFile.looksLike(path)) return loadGguf(path, router, keepExpert);
        if (!HfCheckpoint.looksLike(path)) {
            throw new MogeException(path + ": not a model (expected a directory with config.json and safetensors, or a .gguf file)");
        }
        HfCheckpoint ck = HfCheckpoint.open(path);
        try {
            ModelConfig c = HfConfig.read(ck.config(), path.resolve("config.json"));
            if (router != null && c.hasExperts()) c = c.withRouter(router);
            Weights w = HfWeightLoader.load(ck, c, keepExpert);
            return new LoadedModel(path, c, w, null, null, ck);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    private static LoadedModel loadGguf(Path path, RouterKind router, boolean[] keepExpert) {
        GgufFile f = GgufFile.open(path);
        try {
            ModelConfig c = GgufModelConfig.read(f);
            if (router != null && c.hasExperts()) c = c.withRouter(router);
            Weights w = GgufWeightLoader.load(f, c, keepExpert);
            Tokenizer tok = GgufTokenizers.load(f);
            return new LoadedModel(path, c, w, tok, GgufTokenizers.chatTemplate(f), f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    public static LoadedModel load(Path path) {
        return load(path, null, null);
    }
}
