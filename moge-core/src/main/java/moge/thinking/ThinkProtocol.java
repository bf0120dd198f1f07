package moge.thinking;

import moge.tokenizer.Tokenizer;

import java.util.OptionalInt;

/**
 * A model's thinking protocol: the markers around its reasoning, found by name in its vocabulary (never by id:
 * small vocabularies put the same names elsewhere), and the text appended to the user turn to ask for fast or
 * automatic mode.
 *
 * @param open       opening marker text, null when the vocabulary has none
 * @param close      closing marker text, null when the vocabulary has none
 * @param openId     id of the opening marker, -1 when absent
 * @param closeId    id of the closing marker, -1 when absent
 * @param fastSuffix appended to the last user turn for fast mode, null when the model has no such switch
 * @param autoSuffix appended to the last user turn for automatic mode, null when the model has no such switch
 */
public record ThinkProtocol(String open, String close, int openId, int closeId, String fastSuffix, String autoSuffix) {
    /** openPangu: reasoning between [unused16] and [unused17]; " /no_think" and " /auto_think" switch the turn. */
    public static final String PANGU_OPEN = "[unused16]";
    public static final String PANGU_CLOSE = "[unused17]";
    public static final String NO_THINK = " /no_think";
    public static final String AUTO_THINK = " /auto_think";

    /** A model without think markers: everything it writes is the answer. */
    public static final ThinkProtocol NONE = new ThinkProtocol(null, null, -1, -1, null, null);

    /**
     * The protocol of a vocabulary: openPangu's markers if present, else {@code <think>}/{@code </think>} (Qwen3,
     * DeepSeek-R1 style, whose " /no_think" soft switch we use for fast mode; they have no automatic switch).
     */
    public static ThinkProtocol of(Tokenizer tokenizer) {
        if (tokenizer == null) return NONE;
        ThinkProtocol p = find(tokenizer, PANGU_OPEN, PANGU_CLOSE, NO_THINK, AUTO_THINK);
        if (p != null) return p;
        p = find(tokenizer, "<think>", "</think>", NO_THINK, null);
        return p != null ? p : NONE;
    }

    private static ThinkProtocol find(Tokenizer t, String open, String close, String fast, String auto) {
        OptionalInt o = t.tokenId(open), c = t.tokenId(close);
        if (o.isEmpty() || c.isEmpty()) return null;
        return new ThinkProtocol(open, close, o.getAsInt(), c.getAsInt(), fast, auto);
    }

    public boolean hasMarkers() {
        return open != null && close != null;
    }

    /** The text for a token id when it is a marker (decoders may skip special tokens), else {@code piece}. */
    String markerText(int id, String piece) {
        if (!hasMarkers()) return piece;
        if (id == openId) return open;
        if (id == closeId) return close;
        return piece;
    }

    /**
     * Whether a rendered prompt already opened the reasoning block (templates that end the generation prompt with
     * the opening marker): the last marker in it is an opening one.
     */
    public boolean promptOpensReasoning(String prompt) {
        if (!hasMarkers() || prompt == null) return false;
        int o = prompt.lastIndexOf(open), c = prompt.lastIndexOf(close);
        return o >= 0 && o > c && prompt.substring(o + open.length()).isBlank();
    }
}
