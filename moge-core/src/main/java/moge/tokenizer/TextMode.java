package moge.tokenizer;

/** How a stream of generated ids becomes text. */
public enum TextMode {
    /**
     * A reply after a chat template: special tokens verbatim (the reasoning parser splits on the think markers)
     * and, with SentencePiece, the leading space of each run of text after a special token dropped, as Hugging
     * Face decodes a reply.
     */
    CHAT,
    /**
     * Text that continues a prompt (raw completions): every space kept, since the prompt's text precedes the
     * first word, and special tokens left out, as llama.cpp and vLLM print by default: SentencePiece's added
     * tokens (openPangu's turn and think markers), byte-level BPE's control tokens.
     */
    CONTINUATION,
    /** As {@link #CONTINUATION}, with the special tokens shown verbatim. */
    CONTINUATION_WITH_SPECIAL;

    boolean keepsLeadingSpace() {
        return this != CHAT;
    }

    boolean showsSpecial() {
        return this != CONTINUATION;
    }
}
