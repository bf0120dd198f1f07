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
        return chat(m, messages(system, text));
    }

    /** A one-turn conversation, with a system turn first when given. */
    static List<ChatMessage> messages(String system, String user) {
        List<ChatMessage> msgs = new ArrayList<>();
        if (system != null) msgs.add(new ChatMessage("system", system));
        msgs.add(new ChatMessage("user", user));
        return msgs;
    }

    static int[] chat(LoadedModel m, List<ChatMessage> messages) {
        requireTokenizer(m);
        return m.tokenizer.encodePrompt(m.chatTemplate.render(messages, true));
    }

    /** A prompt or text file, UTF-8, with one line naming the file when it cannot be read. */
    static String readText(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.readString(file);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new MogeException(file + ": not UTF-8 text");
        } catch (java.io.IOException e) {
            throw new MogeException(file + ": cannot read: " + e.getMessage());
        }
    }

    static void requireTokenizer(LoadedModel m) {
        if (m.tokenizer == null) throw new MogeException(m.path + ": the model has no tokenizer.model; use --prompt-ids");
    }

    static int[] stopIds(LoadedModel m) {
        return m.tokenizer == null ? new int[0] : m.tokenizer.eosIds();
    }
}
