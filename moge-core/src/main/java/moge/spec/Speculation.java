package moge.spec;

import moge.MogeException;
import moge.format.DType;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.model.ModelLoader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Builds a {@link SpeculativeDecoder} for a loaded target from {@link SpecConfig}: opens or makes the draft. */
public final class Speculation {
    public static final String SELF_PREFIX = "self:";

    private Speculation() {
    }

    /**
     * A decoder for {@code target} (already running as {@code targetModel}), or null when the mode is none.
     * A draft model runs on the target's thread team and keeps its own cache of {@code context} positions.
     */
    public static SpeculativeDecoder open(SpecConfig c, LoadedModel target, Model targetModel, int context) {
        c.validate();
        int vocab = target.config.vocabSize();
        return switch (c.mode()) {
            case NONE -> null;
            case NGRAM -> new SpeculativeDecoder(new NgramDraft(c.ngramMin(), c.ngramMax()), vocab, c.draftMin(), c.draftMax(), c.adaptive());
            case DRAFT -> new SpeculativeDecoder(openDraft(c.draftModel(), target, targetModel, context), vocab, c.draftMin(), c.draftMax(), c.adaptive());
        };
    }

    /** The draft named by {@code spec} (a directory or self:q8_0 / self:q4_0; null: the demo's shipped draft). */
    public static ModelDraft openDraft(String spec, LoadedModel target, Model targetModel, int context) {
        if (spec == null) {
            Path shipped = shippedDraft(target.path);
            if (shipped == null) {
                throw new MogeException("--spec draft needs --draft-model PATH, self:q8_0 or self:q4_0 (only the shipped demo model has a default draft)");
            }
            spec = shipped.toString();
        }
        int vocab = target.config.vocabSize();
        if (spec.startsWith(SELF_PREFIX)) {
            DType type = switch (spec.substring(SELF_PREFIX.length()).toLowerCase(Locale.ROOT)) {
                case "q8_0" -> DType.Q8_0;
                case "q4_0" -> DType.Q4_0;
                default -> throw new MogeException("--draft-model " + spec + ": a self-draft is self:q8_0 or self:q4_0");
            };
            QuantizedCopy q = QuantizedCopy.of(target.weights, type, targetModel.team());
            try {
                Model m = new Model(target.config, q.weights, targetModel.team(), targetModel.maxBatch());
                return new ModelDraft(m, context, vocab, vocab, spec, q);
            } catch (RuntimeException e) {
                q.close();
                throw e;
            }
        }
        Path p = Path.of(spec);
        LoadedModel d = ModelLoader.load(p);
        try {
            int shared = ModelDraft.sharedVocab(target, d);
            Model m = new Model(d.config, d.weights, targetModel.team(), targetModel.maxBatch());
            return new ModelDraft(m, context, shared, vocab, spec, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /** models/draft beside models/demo: the draft trained for the shipped demo model, when the target is it. */
    public static Path shippedDraft(Path target) {
        Path t = target.toAbsolutePath().normalize();
        Path name = t.getFileName();
        if (name == null || !name.toString().equals("demo") || t.getParent() == null) return null;
        Path d = t.resolveSibling("draft");
        return Files.isRegularFile(d.resolve("config.json")) ? d : null;
    }
}
