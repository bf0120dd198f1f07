package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import moge.MogeException;
import moge.thinking.Confidence;
import moge.thinking.ThinkPrompt;
import moge.thinking.ThinkProtocol;
import moge.thinking.ThinkingBudget;
import moge.thinking.ThinkingMode;
import moge.thinking.ThinkingOptions;
import moge.tokenizer.Tokenizer;

/**
 * Thinking modes for chat requests. Fields, strongest first: {@code thinking: {"mode": "slow"|"fast"|"auto"|"cascade",
 * "budget": N, "cascade": {"mean": L, "min": L}}}, {@code reasoning_effort} (low = fast, medium = auto, high = slow),
 * {@code chat_template_kwargs.enable_thinking} (false = fast, true = slow); budget also as {@code thinking_budget}.
 * Requests without any of them get the server's defaults. A switch the user typed at the end of the last user turn
 * (" /no_think", " /auto_think") is what the model obeys, so it decides the mode over all of these. Counts the modes
 * used and cascade escalations at /metrics.
 */
public final class ThinkingHooks implements RequestHooks {
    private final Tokenizer tokenizer;
    private final ThinkProtocol protocol;
    private final ThinkingOptions defaults;
    private final MeterRegistry registry;
    private final Counter escalations;

    /** @param defaults mode, budget, budget message and cascade thresholds for requests that do not say */
    public ThinkingHooks(Tokenizer tokenizer, ThinkingOptions defaults, MeterRegistry registry) {
        this.tokenizer = tokenizer;
        this.protocol = ThinkProtocol.of(tokenizer);
        this.defaults = defaults;
        this.registry = registry;
        this.escalations = registry == null ? null : Counter.builder("moge.thinking.cascade.escalations")
                .description("Cascade requests whose fast answer was doubtful and that were answered again slowly").register(registry);
    }

    public ThinkProtocol protocol() {
        return protocol;
    }

    @Override
    public RequestPlan plan(CompletionRequest r) {
        return new ThinkingPlan(this, ThinkPrompt.withTypedMode(options(r.body()), r.messages(), protocol));
    }

    /** The request's thinking options, or a 400 naming the bad field. */
    ThinkingOptions options(ObjectNode body) {
        Fields f = new Fields(body);
        ThinkingOptions t = defaults;
        ObjectNode kw = f.object("chat_template_kwargs");
        JsonNode enable = kw == null ? null : kw.get("enable_thinking");
        if (enable != null && enable.isBoolean()) t = t.withMode(enable.booleanValue() ? ThinkingMode.SLOW : ThinkingMode.FAST);
        String effort = f.string("reasoning_effort", null);
        if (effort != null) t = t.withMode(parse("reasoning_effort", () -> ThinkingMode.fromReasoningEffort(effort)));
        if (f.has("thinking_budget")) t = t.withBudget((int) f.integer("thinking_budget", 0, 0, Integer.MAX_VALUE));
        ObjectNode th = f.object("thinking");
        if (th != null) {
            Fields tf = new Fields(th);
            String mode = tf.string("mode", null);
            if (mode != null) t = t.withMode(parse("thinking.mode", () -> ThinkingMode.parse(mode)));
            if (tf.has("budget")) t = t.withBudget((int) nested("thinking.", "budget", () -> (double) tf.integer("budget", 0, 0, Integer.MAX_VALUE)));
            ObjectNode c = tf.object("cascade");
            if (c != null) {
                Fields cf = new Fields(c);
                double mean = nested("thinking.cascade.", "mean", () -> cf.number("mean", defaults.cascade().mean(), -1e9, 0));
                double min = nested("thinking.cascade.", "min", () -> cf.number("min", defaults.cascade().min(), -1e9, 0));
                t = t.withCascade(new Confidence.Thresholds(mean, min));
            }
        }
        return t;
    }

    /** A field of a nested object, with errors naming its full path (e.g. thinking.cascade.mean). */
    private static double nested(String prefix, String name, java.util.function.DoubleSupplier read) {
        try {
            return read.getAsDouble();
        } catch (ApiException e) {
            throw ApiException.invalid(prefix + name, e.getMessage().replace("'" + name + "'", "'" + prefix + name + "'"));
        }
    }

    private static ThinkingMode parse(String param, java.util.function.Supplier<ThinkingMode> p) {
        try {
            return p.get();
        } catch (MogeException e) {
            throw ApiException.invalid(param, "'" + param + "': " + e.getMessage());
        }
    }

    int[] budgetMessageIds(ThinkingOptions t) {
        return t.budget() > 0 && !t.budgetMessage().isEmpty() ? tokenizer.encode(t.budgetMessage()) : new int[0];
    }

    /** Whether the token alone decodes to white space (or nothing). */
    boolean isBlank(int id) {
        return tokenizer.decode(new int[]{id}).isBlank();
    }

    int[] stopIds() {
        return tokenizer.eosIds();
    }

    /** Counts one answered request by requested mode and mode used. */
    void count(ThinkingMode requested, String used, boolean escalated) {
        if (registry == null) return;
        Counter.builder("moge.thinking.requests").description("Chat requests by requested thinking mode and the mode that answered")
                .tag("mode", requested.label()).tag("mode_used", used).register(registry).increment();
        if (escalated) escalations.increment();
    }

    /** Defaults for a server: slow (the model's own default), no budget, the standard budget message. */
    public static ThinkingOptions serverDefaults() {
        return new ThinkingOptions(ThinkingMode.SLOW, ThinkingBudget.UNLIMITED, ThinkingOptions.DEFAULT_BUDGET_MESSAGE,
                Confidence.Thresholds.DEFAULT);
    }
}
