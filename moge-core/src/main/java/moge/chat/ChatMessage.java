package moge.chat;

import java.util.Objects;

/** One turn of a conversation; {@code role} is "system", "user", "assistant", "tool" or "function". */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        // HF templates see a missing content as an empty string when they concatenate it
        if (content == null) content = "";
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
