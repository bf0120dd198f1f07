package moge.tokenizer;

/** Turns a stream of token ids into text pieces, holding back incomplete UTF-8 sequences. */
public interface StreamDecoder {
    /** Adds one id; returns the text that is now complete (possibly empty). */
    String push(int id);

    /** Returns whatever is still held back (incomplete bytes become U+FFFD). */
    String flush();
}
