package moge.cli;

import moge.MogeException;
import moge.model.LoadedModel;

/** Turning user text into prompt ids: raw text with BOS, or one chat turn through the template. */
final class Prompts {
    private Prompts() {
    }

    static int[] encode(LoadedModel m, String text, boolean chat, String system) {
        if (m.tokenizer == null) throw new MogeException(m.path + ": the model has no tokenizer; use --prompt-ids");
        if (chat) throw new MogeException("--chat is not available yet");
        return m.tokenizer.encodePrompt(text);
    }

    static int[] stopIds(LoadedModel m) {
        if (m.tokenizer == null || m.tokenizer.special().eos() < 0) return new int[0];
        return new int[]{m.tokenizer.special().eos()};
    }
}
