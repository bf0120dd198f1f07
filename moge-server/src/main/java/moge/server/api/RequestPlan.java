package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.generate.Step;
import moge.server.sched.GenerationPolicy;
import moge.server.sched.SequenceResult;

import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * One chat request's plan, made by {@link RequestHooks#plan}. A request runs as attempt 0 and, when a held-back
 * attempt is not accepted, again as attempt 1, 2, ... (a thinking cascade answers fast first and slowly only when
 * unsure). Each attempt may see its own conversation, template variables, decode policy and output splitter. All
 * methods run on the request's thread except the policy's, which run on the scheduler thread.
 */
public interface RequestPlan {
    RequestPlan PLAIN = new RequestPlan() {
    };

    /** The conversation the template renders for this attempt (e.g. a mode switch appended to the last user turn). */
    default List<ChatMessage> messages(int attempt, List<ChatMessage> messages) {
        return messages;
    }

    /** Chat template variables for this attempt, starting from the client's chat_template_kwargs. */
    default Map<String, Object> templateVariables(int attempt, Map<String, Object> fromClient) {
        return fromClient;
    }

    /** The per-sequence policy (budget enforcement by forcing tokens), given the final prompt. */
    default GenerationPolicy policy(int attempt, int[] promptIds, String promptText) {
        return GenerationPolicy.NONE;
    }

    /** How the output text splits into reasoning and content. */
    default OutputSplitter splitter(int attempt, int[] promptIds, String promptText) {
        return OutputSplitter.plain();
    }

    /**
     * Which generated tokens make up the answer's content (their log-probabilities go in {@code logprobs.content}):
     * fed every token of the attempt in order, true for content tokens. The plain plan keeps all.
     */
    default IntPredicate contentTokens(int attempt, String promptText) {
        return id -> true;
    }

    /** Whether this attempt runs to its end before anything reaches the client (then {@link #accept} decides). */
    default boolean holdBack(int attempt) {
        return false;
    }

    /** Whether this attempt needs each token's log-probability even when the client asked for none. */
    default boolean needsLogprobs(int attempt) {
        return false;
    }

    /** After a held-back attempt: true answers with it, false runs the next attempt. */
    default boolean accept(int attempt, SequenceResult result, List<Step> steps) {
        return true;
    }

    /**
     * Adds the plan's own fields to the response object (or the finishing chunk of a stream); {@code reasoned} says
     * whether the answer had any reasoning text. Called once per answered request; with n choices, once per choice,
     * on the choice's object (or its finishing chunk), as each choice has a plan of its own.
     */
    default void decorate(ObjectNode response, boolean reasoned) {
    }
}
