package moge.server.api;

/**
 * Where request-level features plug into the HTTP layer without touching it (thinking modes, reasoning
 * budgets, cascades). Runs on the request's thread; a bad field is reported by throwing
 * {@link ApiException#invalid}.
 */
public interface RequestHooks {
    RequestHooks NONE = new RequestHooks() {
    };

    /**
     * How one chat request is to be run (once, or in several attempts); reads and checks its own fields. Called once
     * per choice (n), so that each choice's plan keeps its own state.
     */
    default RequestPlan plan(CompletionRequest r) {
        return RequestPlan.PLAIN;
    }
}
