package moge.generate;

/** Receives each generated token as it is produced; returning false cancels the generation. */
@FunctionalInterface
public interface TokenListener {
    boolean onToken(int id, String text, Step step);

    TokenListener NONE = (id, text, step) -> true;
}
