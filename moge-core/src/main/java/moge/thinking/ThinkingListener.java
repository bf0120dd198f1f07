package moge.thinking;

import moge.generate.Step;

/**
 * Receives the answer as it is produced, already split. A cascade's fast attempt is held back until it is
 * accepted (then replayed token by token); when it is rejected, {@link #onEscalation} is called and only the slow
 * attempt is streamed.
 */
public interface ThinkingListener {
    /**
     * One generated token ({@code id}, its {@code step}) and the reasoning and answer text it made certain (either may
     * be empty; markers are never part of them). At the end of a generation a last call with id -1 and a null step
     * delivers text that was held back. Returning false cancels.
     */
    boolean onToken(int id, Step step, String reasoning, String content);

    /** A cascade found the fast answer doubtful ({@code reason}) and is answering again in slow mode. */
    default void onEscalation(String reason) {
    }

    ThinkingListener NONE = (id, step, reasoning, content) -> true;
}
