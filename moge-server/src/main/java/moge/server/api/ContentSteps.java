package moge.server.api;

import moge.generate.Step;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;

/**
 * The log-probabilities a chat answer reports in {@code logprobs.content}: only of the tokens that make up its
 * content. Think markers, reasoning and the end-of-turn token are left out (OpenAI has no field for them). A kept
 * token is released together with the content it helped write, so no chunk carries a log-probability without
 * text; one whose text never reached the content (cut by a stop string) is dropped. Raw completions keep all.
 */
final class ContentSteps {
    private final IntPredicate content;
    private final boolean wanted;
    private final boolean waitForText;
    private final List<Step> pending = new ArrayList<>();

    private ContentSteps(IntPredicate content, boolean wanted, boolean waitForText) {
        this.content = content;
        this.wanted = wanted;
        this.waitForText = waitForText;
    }

    /**
     * @param content fed every generated token in order (it may follow the think block), true for content tokens
     * @param stopIds end-of-turn tokens, never content (unless the request ignores them and they are text)
     */
    static ContentSteps chat(IntPredicate content, int[] stopIds, boolean ignoreEos, boolean wanted) {
        return new ContentSteps(id -> content.test(id) && (ignoreEos || IntStream.of(stopIds).noneMatch(s -> s == id)), wanted, true);
    }

    static ContentSteps all(boolean wanted) {
        return new ContentSteps(id -> true, wanted, false);
    }

    /** One generated token, in order; must see every token even when its step is missing. */
    void token(RequestStream.Token t) {
        if (content.test(t.id()) && wanted && t.step() != null) pending.add(t.step());
    }

    /** The steps to send now that {@code contentGrew} (or not): all held ones once their text is out. */
    List<Step> release(boolean contentGrew) {
        if (pending.isEmpty() || (waitForText && !contentGrew)) return List.of();
        List<Step> out = List.copyOf(pending);
        pending.clear();
        return out;
    }
}
