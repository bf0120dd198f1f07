package moge.train.data;

/**
 * One synthetic task instance.
 *
 * @param cls        task class (add_small, sub, mul, add_big, chat)
 * @param difficulty "easy" or "hard": in auto mode easy problems are answered fast, hard ones slow
 * @param question   the user's words
 * @param working    the step-by-step reasoning shown between the think markers in slow mode
 * @param answer     the final answer (for arithmetic, just the number)
 * @param key        identifies the problem regardless of wording (held-out problems are kept out of training)
 */
public record Problem(String cls, String difficulty, String question, String working, String answer, String key) {
    public boolean easy() {
        return difficulty.equals("easy");
    }
}
