package moge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.generate.Generator;
import moge.generate.SpecStats;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.spec.SpecConfig;
import moge.spec.Speculation;
import moge.spec.SpeculativeDecoder;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Locale;

/** Speculative decoding flags shared by generate, chat and bench. */
public final class SpecOptions {
    @Option(names = "--spec", paramLabel = "none|ngram|draft",
            description = "Speculative decoding: none, ngram (prompt lookup) or draft (a draft model; default when --draft-model is given).")
    public String spec;

    @Option(names = "--draft-model", paramLabel = "PATH|self:q8_0|self:q4_0",
            description = "Draft model directory sharing the target's tokenizer, or a quantized copy of the target itself "
                    + "(default with --spec draft: the draft shipped beside the demo model).")
    public String draftModel;

    @Option(names = "--draft-max", paramLabel = "K", description = "Most tokens proposed per verification pass (default "
            + SpecConfig.DEFAULT_DRAFT_MAX + ").")
    public int draftMax = SpecConfig.DEFAULT_DRAFT_MAX;

    @Option(names = "--draft-min", paramLabel = "K", description = "Fewest tokens worth a verification pass (default "
            + SpecConfig.DEFAULT_DRAFT_MIN + ").")
    public int draftMin = SpecConfig.DEFAULT_DRAFT_MIN;

    @Option(names = "--draft-fixed", description = "Always propose --draft-max tokens (no adaptive draft length, never switches off).")
    public boolean draftFixed;

    @Option(names = "--ngram-min", paramLabel = "N", description = "Shortest suffix n-gram lookup matches (default "
            + SpecConfig.DEFAULT_NGRAM_MIN + ").")
    public int ngramMin = SpecConfig.DEFAULT_NGRAM_MIN;

    @Option(names = "--ngram-max", paramLabel = "N", description = "Longest suffix n-gram lookup tries first (default "
            + SpecConfig.DEFAULT_NGRAM_MAX + ").")
    public int ngramMax = SpecConfig.DEFAULT_NGRAM_MAX;

    // llama.cpp's names, hidden so that help shows one name per flag: its users type them by habit
    @Option(names = {"-md", "--model-draft"}, hidden = true, paramLabel = "PATH")
    void llamaDraftModel(String path) {
        draftModel = path;
    }

    @Option(names = {"--draft", "--draft-n"}, hidden = true, paramLabel = "K")
    void llamaDraftMax(int k) {
        draftMax = k;
    }

    @Option(names = "--draft-n-min", hidden = true, paramLabel = "K")
    void llamaDraftMin(int k) {
        draftMin = k;
    }

    public SpecConfig config() {
        SpecConfig.Mode mode = spec != null ? SpecConfig.Mode.parse(spec)
                : draftModel != null ? SpecConfig.Mode.DRAFT : SpecConfig.Mode.NONE;
        if (draftModel != null && mode != SpecConfig.Mode.DRAFT) {
            throw new moge.MogeException("--draft-model needs --spec draft (got --spec " + spec + ")");
        }
        SpecConfig c = new SpecConfig(mode, draftModel, draftMin, draftMax, ngramMin, ngramMax, !draftFixed);
        c.validate();
        return c;
    }

    /**
     * The settings, with the model and the draft checked before anything loads (a typo should not cost a model
     * load); tuning flags without speculation get a note on {@code err} rather than being dropped in silence.
     */
    public SpecConfig checked(ModelOptions model, PrintWriter err) {
        SpecConfig c = config();
        Speculation.checkDraft(c, model.existingModelPath());
        if (!c.enabled() && !c.equals(SpecConfig.none())) {
            err.println("moge: --draft-max, --draft-min, --draft-fixed, --ngram-min and --ngram-max ignored: no speculative decoding "
                    + "(add --spec ngram|draft or --draft-model)");
            err.flush();
        }
        return c;
    }

    /** One line for people: what speculation proposed and how much of it the model kept. */
    static String summary(SpecStats s) {
        return String.format(Locale.ROOT, "%s: %d of %d proposed tokens accepted (%.0f%%), %.2f per verifying pass; %d decode passes",
                s.source(), s.accepted(), s.drafted(), 100 * s.acceptanceRate(), s.meanAccepted(), s.rounds());
    }

    /** The decoder for this target, or null when speculation is off (try-with-resources accepts null). */
    public SpeculativeDecoder open(LoadedModel lm, Model m, int ctx) {
        return Speculation.open(config(), lm, m, ctx);
    }

    /** Decodes speculatively with {@code d} when it is not null. */
    public static Generator attach(Generator g, SpeculativeDecoder d) {
        if (d != null) g.setSpeculator(d);
        return g;
    }

    /** The speculation record of --json output. */
    static void toJson(ObjectNode n, SpecStats s) {
        n.put("source", s.source());
        n.put("rounds", s.rounds());
        n.put("draft_rounds", s.draftRounds());
        n.put("drafted", s.drafted());
        n.put("accepted", s.accepted());
        n.put("emitted", s.emitted());
        n.put("acceptance_rate", s.acceptanceRate());
        n.put("mean_accepted", s.meanAccepted());
        n.put("mean_draft", s.meanDraft());
        n.put("max_draft", s.maxDraft());
        n.put("draft_ms", s.draftMs());
        n.put("verify_ms", s.verifyMs());
        n.put("plain_ms_per_token", s.plainMsPerToken());
        n.put("speedup_estimate", s.estimatedSpeedup());
    }
}
