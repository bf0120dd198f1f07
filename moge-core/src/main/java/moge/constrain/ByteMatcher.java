package moge.constrain;

/**
 * A language of byte strings, followed one byte at a time: what {@link TokenMask} walks the vocabulary trie
 * with. States are immutable values (equal states allow the same continuations, so they key the mask cache);
 * their type is the matcher's own, hence {@code Object} here. Implementations: {@link JsonMatcher} (JSON
 * following a schema) and {@link GrammarMatcher} (a GBNF grammar).
 */
public interface ByteMatcher {
    /** The state before any text. */
    Object start();

    /** The state after one more byte of {@code state}, or null when nothing in the language continues with it. */
    Object next(Object state, int b);

    /** Whether the text so far is in the language (the output may end here). */
    boolean accepting(Object state);

    /** The state after {@code bytes}, or null. */
    default Object next(Object state, byte[] bytes) {
        for (int i = 0; i < bytes.length && state != null; i++) state = next(state, bytes[i]);
        return state;
    }
}
