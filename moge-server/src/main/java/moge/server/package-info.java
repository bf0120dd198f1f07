/**
 * The OpenAI-compatible server. Three layers, each knowing only the one below it:
 * <ul>
 *   <li>{@code moge.server} — {@link moge.server.MogeServer} (Javalin routes, loading, graceful shutdown) and
 *       {@link moge.server.ServerOptions};</li>
 *   <li>{@code moge.server.api} — the HTTP protocol: request parsing and validation
 *       ({@link moge.server.api.RequestParser}), one completion from prompt to JSON or server-sent events
 *       ({@link moge.server.api.CompletionHandler}), OpenAI error shapes ({@link moge.server.api.ApiException});</li>
 *   <li>{@code moge.server.sched} — continuous batching on one model thread ({@link moge.server.sched.Scheduler}),
 *       per-request generation state ({@link moge.server.sched.SequenceState}) and the prefix cache
 *       ({@link moge.server.sched.PrefixCache}); no HTTP here.</li>
 * </ul>
 * Seams for features that plug in later:
 * <ul>
 *   <li>speculative decoding: {@link moge.server.sched.Scheduler#setDecodeStrategies} chooses a
 *       {@link moge.server.sched.DecodeStrategy} per decoding sequence (plan several tokens into the step's batch,
 *       verify them against their logits rows, {@link moge.server.sched.SequenceState#accept} the accepted ones and
 *       truncate the KV sequence past them); {@link moge.server.sched.SpeculativeStrategy} does this with
 *       {@code moge.spec} when {@link moge.server.ServerOptions#speculation} is on; requests opt out with
 *       {@code "speculative": false} ({@link moge.server.sched.GenerationParams#allowSpeculation});</li>
 *   <li>thinking: {@link moge.server.api.RequestHooks} (in {@link moge.server.ServerOptions#hooks}) reads extra
 *       request fields from {@link moge.server.api.CompletionRequest#body}, adds chat template variables, gives a
 *       per-sequence {@link moge.server.sched.GenerationPolicy} (onPromptBuilt, forceNext instead of sampling,
 *       onToken, {@link moge.server.sched.SequenceState#addReasoningTokens}) and an
 *       {@link moge.server.api.OutputSplitter} that routes text to {@code reasoning_content};</li>
 *   <li>expert devices: engine failures implementing {@link moge.ServiceUnavailable} answer 503; per-device
 *       meters go on {@code MogeServer.metrics().registry()} and appear at /metrics; devices in other processes
 *       ({@link moge.moe.ExpertDevice#address}) are probed by {@link moge.server.WorkerHealth}, and /health answers
 *       503 while one does not answer.</li>
 * </ul>
 */
package moge.server;
