package moge.model;

import moge.chat.ChatTemplate;
import moge.format.TensorSource;
import moge.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * A model opened but not loaded: its configuration, tokenizer, chat template and the mapped checkpoint, without
 * the weights' repacking. What `inspect` shows and what an expert worker needs to choose its experts, in a
 * fraction of the load time; closing it unmaps the checkpoint.
 */
public record ModelDescription(Path path, ModelConfig config, Tokenizer tokenizer, ChatTemplate chatTemplate, TensorSource source)
        implements AutoCloseable {
    @Override
    public void close() {
        source.close();
    }
}
