package moge.thinking;

import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps a thinking mode onto the model's own protocol. Like upstream openPangu's generate.py, the last user turn
 * gets " /no_think" (fast) or " /auto_think" (automatic) appended; slow is the model's default and adds nothing.
 * The mode is also passed to the template as variables ({@code enable_thinking}, {@code thinking_mode},
 * {@code reasoning_effort}) so templates written around those switches (Qwen3 style) work too.
 */
public final class ThinkPrompt {
    private ThinkPrompt() {
    }

    /** The conversation with its last user turn rewritten for {@code mode} (SLOW, FAST or AUTO). */
    public static List<ChatMessage> rewrite(List<ChatMessage> messages, ThinkingMode mode, ThinkProtocol protocol) {
        String suffix = switch (requireConcrete(mode)) {
            case FAST -> protocol.fastSuffix();
            case AUTO -> protocol.autoSuffix();
            default -> null;
        };
        List<ChatMessage> out = new ArrayList<>(messages);
        if (suffix == null) return out;
        for (int i = out.size() - 1; i >= 0; i--) {
            ChatMessage m = out.get(i);
            if (!m.role().equals("user")) continue;
            // a turn that already carries the switch (typed by the user) is not switched twice
            if (!endsWithSwitch(m.content(), suffix)) out.set(i, m.withContent(m.content() + suffix));
            break;
        }
        return out;
    }

    /**
     * The mode the last user turn asks for by ending with the protocol's own switch (" /no_think" fast,
     * " /auto_think" auto), or null. The model obeys what it reads in the turn, so the switch typed there decides
     * the mode over any request field or default: the reported mode and the counts must follow it.
     */
    public static ThinkingMode typedMode(List<ChatMessage> messages, ThinkProtocol protocol) {
        for (int i = messages.size() - 1; i >= 0; i--) {
            ChatMessage m = messages.get(i);
            if (!m.role().equals("user")) continue;
            if (protocol.fastSuffix() != null && endsWithSwitch(m.content(), protocol.fastSuffix())) return ThinkingMode.FAST;
            if (protocol.autoSuffix() != null && endsWithSwitch(m.content(), protocol.autoSuffix())) return ThinkingMode.AUTO;
            return null;
        }
        return null;
    }

    /** {@code t} with the mode typed in the last user turn, if any (see {@link #typedMode}). */
    public static ThinkingOptions withTypedMode(ThinkingOptions t, List<ChatMessage> messages, ThinkProtocol protocol) {
        ThinkingMode typed = typedMode(messages, protocol);
        return typed == null ? t : t.withMode(typed);
    }

    /** Whether the text ends with the switch; trailing whitespace after it (or none before it) still counts. */
    private static boolean endsWithSwitch(String content, String suffix) {
        return content != null && content.stripTrailing().endsWith(suffix.strip());
    }

    /** Template variables describing the mode; user-given template kwargs should be applied on top. */
    public static Map<String, Object> templateKwargs(ThinkingMode mode) {
        Map<String, Object> kw = new LinkedHashMap<>();
        ThinkingMode m = requireConcrete(mode);
        kw.put("enable_thinking", m != ThinkingMode.FAST);
        kw.put("thinking_mode", m.label());
        kw.put("reasoning_effort", switch (m) {
            case FAST -> "low";
            case AUTO -> "medium";
            default -> "high";
        });
        return kw;
    }

    /** The prompt text for the conversation in {@code mode}, generation prompt included. */
    public static String render(ChatTemplate template, List<ChatMessage> messages, ThinkingMode mode, ThinkProtocol protocol) {
        return render(template, messages, mode, protocol, Map.of());
    }

    /** As {@link #render(ChatTemplate, List, ThinkingMode, ThinkProtocol)}; {@code userKwargs} override the mode's. */
    public static String render(ChatTemplate template, List<ChatMessage> messages, ThinkingMode mode, ThinkProtocol protocol,
                                Map<String, ?> userKwargs) {
        Map<String, Object> kw = templateKwargs(mode);
        kw.putAll(userKwargs);
        return template.render(rewrite(messages, mode, protocol), true, kw);
    }

    private static ThinkingMode requireConcrete(ThinkingMode mode) {
        if (mode == ThinkingMode.CASCADE) {
            throw new IllegalArgumentException("cascade is an engine policy: render its fast and slow attempts separately");
        }
        return mode;
    }
}
