package moge.cli;

import moge.MogeException;
import moge.chat.ChatMessage;
import moge.model.LoadedModel;

import java.util.ArrayList;
import java.util.List;

/** Turning user text into prompt ids: raw text with BOS, or chat turns through the model's template. */
final class Prompts {
    private Prompts() {
    }

    static int[] encode(LoadedModel m, String text, boolean chat, String system) {
        requireTokenizer(m);
        if (!chat) return m.tokenizer.encodePrompt(text);
        List<ChatMessage> msgs = new ArrayList<>();
        if (system != null) msgs.add(new ChatMessage("system", system));
        msgs.add(new ChatMessage("user", text));
        return chat(m, msgs);
    }

    static int[] chat(LoadedModel m, List<ChatMessage> messages) {
        requireTokenizer(m);
        return m.tokenizer.encodePrompt(m.chatTemplate.render(messages, true));
    }

    static void requireTokenizer(LoadedModel m) {
        if (m.tokenizer == null) throw new MogeException(m.path + ": the model has no tokenizer.model; use --prompt-ids");
    }

    static int[] stopIds(LoadedModel m) {
        return m.tokenizer == null ? new int[0] : m.tokenizer.eosIds();
    }
}
