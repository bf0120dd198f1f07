package moge.thinking;

import moge.MogeException;

import java.util.Locale;

/**
 * How a request should think. SLOW, FAST and AUTO map to the model's own protocol (openPangu: slow by default,
 * " /no_think" or " /auto_think" appended to the user turn); CASCADE is the engine's policy for any model: answer
 * fast, and answer again slowly only when the fast answer's token log-probabilities say the model was unsure.
 */
public enum ThinkingMode {
    SLOW, FAST, AUTO, CASCADE;

    /** The lower-case name used on the command line, in requests and in results. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ThinkingMode parse(String s) {
        if (s != null) {
            for (ThinkingMode m : values()) if (m.label().equals(s.strip().toLowerCase(Locale.ROOT))) return m;
        }
        throw new MogeException("thinking mode must be slow, fast, auto or cascade, got '" + s + "'");
    }

    /** OpenAI's {@code reasoning_effort}: low = fast, medium = auto, high = slow (minimal/none also mean fast). */
    public static ThinkingMode fromReasoningEffort(String effort) {
        String e = effort == null ? "" : effort.strip().toLowerCase(Locale.ROOT);
        return switch (e) {
            case "none", "minimal", "low" -> FAST;
            case "medium" -> AUTO;
            case "high" -> SLOW;
            default -> throw new MogeException("reasoning_effort must be low, medium or high, got '" + effort + "'");
        };
    }
}
