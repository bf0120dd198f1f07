package moge.model;

import moge.chat.ChatTemplate;
import moge.format.TensorSource;
import moge.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * A model ready to run: its configuration, mapped weights and tokenizer, and the checkpoint that backs the
 * mapping (closing this unmaps the weights).
 */
public final class LoadedModel implements AutoCloseable {
    public final Path path;
    public final ModelConfig config;
    public final Weights weights;
    public final Tokenizer tokenizer;
    public final ChatTemplate chatTemplate;
    private final TensorSource source;

    public LoadedModel(Path path, ModelConfig config, Weights weights, Tokenizer tokenizer, ChatTemplate chatTemplate, TensorSource source) {
        this.path = path;
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.source = source;
    }

    /** The same model (weights, mapping and all) with another chat template; this one must not be closed then. */
    public LoadedModel withChatTemplate(ChatTemplate t) {
        return new LoadedModel(path, config, weights, tokenizer, t, source);
    }

    public TensorSource source() {
        return source;
    }

    /** A display name: the directory or file name. */
    public String name() {
        Path f = path.getFileName();
        return f == null ? path.toString() : f.toString();
    }

    @Override
    public void close() {
        source.close();
    }
}
