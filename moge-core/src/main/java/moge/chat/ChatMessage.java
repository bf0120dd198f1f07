package moge.chat;

import java.util.Map;
import java.util.Objects;

/**
 * One turn of a conversation; {@code role} is "system", "user", "assistant", "tool" or "function". {@code fields}
 * are further keys a Jinja template sees on the message beside role and content (OpenAI's {@code tool_calls} of an
 * assistant turn, {@code tool_call_id} and {@code name} of a tool result), in Hugging Face's shapes; the built-in
 * openPangu format reads content only.
 */
public record ChatMessage(String role, String content, Map<String, Object> fields) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        // HF templates see a missing content as an empty string when they concatenate it
        if (content == null) content = "";
        fields = fields == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(fields));
        if (fields.containsKey("role") || fields.containsKey("content")) throw new IllegalArgumentException("fields may not set role or content");
    }

    public ChatMessage(String role, String content) {
        this(role, content, Map.of());
    }

    /** The same turn with other content, its fields kept. */
    public ChatMessage withContent(String text) {
        return new ChatMessage(role, text, fields);
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
