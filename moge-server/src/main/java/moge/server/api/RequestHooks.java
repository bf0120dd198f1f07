package moge.server.api;

import moge.server.sched.GenerationPolicy;

import java.util.Map;

/**
 * Where request-level features plug into the HTTP layer without touching it (thinking modes, reasoning
 * budgets). Every method runs on the request's thread; a bad field is reported by throwing
 * {@link ApiException#invalid}.
 */
public interface RequestHooks {
    RequestHooks NONE = new RequestHooks() {
    };

    /**
     * Chat template variables for this request, starting from the client's chat_template_kwargs (e.g. add
     * enable_thinking from {@code thinking: {mode}} or {@code reasoning_effort}).
     */
    default Map<String, Object> templateVariables(CompletionRequest r, Map<String, Object> fromClient) {
        return fromClient;
    }

    /** The per-sequence policy (budget enforcement by forcing tokens), given the final prompt ids. */
    default GenerationPolicy policy(CompletionRequest r, int[] promptIds) {
        return GenerationPolicy.NONE;
    }

    /** How the output text splits into reasoning_content and content (chat only). */
    default OutputSplitter splitter(CompletionRequest r, int[] promptIds) {
        return OutputSplitter.plain();
    }
}
