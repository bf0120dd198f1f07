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

    /** The draft named by {@code spec} (a directory or self:q8_0 / self:q4_0; null: the default draft, see {@link #defaultDraft}). */
    public static ModelDraft openDraft(String spec, LoadedModel target, Model targetModel, int context) {
        DraftModel d = loadDraft(spec, target, targetModel);
        try {
            return new ModelDraft(d.model(), context, d.vocab(), target.config.vocabSize(), d.name(), d.owned());
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /**
     * A draft model without a cache: the model (on the target's thread team and batch size), the ids it may
     * propose, and what to close with it (a loaded checkpoint or a quantized copy).
     */
    public record DraftModel(Model model, int vocab, String name, AutoCloseable owned) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
            try {
                owned.close();
            } catch (Exception e) {
                throw new MogeException("closing draft " + name + ": " + e.getMessage());
            }
        }
    }

    /** Loads or makes the draft named by {@code spec} (see {@link #openDraft}). */
    public static DraftModel loadDraft(String spec, LoadedModel target, Model targetModel) {
        if (spec == null) spec = defaultDraft(target.path).toString();
        int vocab = target.config.vocabSize();
        if (spec.startsWith(SELF_PREFIX)) {
            DType type = selfType(spec);
            QuantizedCopy q = QuantizedCopy.of(target.weights, type, targetModel.team());
            try {
                return new DraftModel(new Model(target.config, q.weights, targetModel.team(), targetModel.maxBatch()), vocab, spec, q);
            } catch (RuntimeException e) {
                q.close();
                throw e;
            }
        }
        LoadedModel d = ModelLoader.load(Path.of(spec));
        try {
            int shared = ModelDraft.sharedVocab(target, d);
            return new DraftModel(new Model(d.config, d.weights, targetModel.team(), targetModel.maxBatch()), shared, spec, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /**
     * Fails in one line when the draft of {@code c} cannot be there (a missing directory, an unknown self-draft,
     * no default draft for {@code target}), so that a server says so before it spends minutes loading the target.
     */
    public static void checkDraft(SpecConfig c, Path target) {
        if (c.mode() != SpecConfig.Mode.DRAFT) return;
        String spec = c.draftModel();
        if (spec == null) {
            defaultDraft(target);
        } else if (spec.startsWith(SELF_PREFIX)) {
            selfType(spec);
        } else if (!Files.exists(Path.of(spec))) {
            throw new MogeException("--draft-model " + spec + ": no such file or directory");
        }
    }

    private static DType selfType(String spec) {
        return switch (spec.substring(SELF_PREFIX.length()).toLowerCase(Locale.ROOT)) {
            case "q8_0" -> DType.Q8_0;
            case "q4_0" -> DType.Q4_0;
            default -> throw new MogeException("--draft-model " + spec + ": a self-draft is self:q8_0 or self:q4_0");
        };
    }

    /** A file in a model directory that names its default draft (a path, relative to the model directory). */
    public static final String DRAFT_FILE = "draft_model";

    /**
     * The draft {@code --spec draft} uses without {@code --draft-model}: the directory named in the target's
     * {@value #DRAFT_FILE} file, else, when the target is the shipped demo model (a directory named
     * {@code demo}), the directory {@code draft} beside it (models/draft). Fails in one line when there is none.
     */
    public static Path defaultDraft(Path target) {
        Path t = target.toAbsolutePath().normalize();
        Path file = t.resolve(DRAFT_FILE);
        if (Files.isRegularFile(file)) {
            String named;
            try {
                named = Files.readString(file).strip();
            } catch (java.io.IOException e) {
                throw new MogeException(file + ": cannot read (" + e.getMessage() + ")");
            }
            if (named.isEmpty()) throw new MogeException(file + ": empty; it should name the draft model's directory");
            Path d = t.resolve(named).normalize();
            if (!Files.isRegularFile(d.resolve("config.json"))) {
                throw new MogeException(file + ": names the draft model " + d + ", which has no config.json");
            }
            return d;
        }
        Path shipped = shippedDraft(t);
        if (shipped != null) return shipped;
        if (isDemo(t)) {
            throw new MogeException("--spec draft: the demo model's draft is missing (expected " + t.resolveSibling("draft")
                    + "/config.json); give --draft-model PATH, self:q8_0 or self:q4_0");
        }
        throw new MogeException("--spec draft needs --draft-model PATH, self:q8_0 or self:q4_0 (only the shipped demo model, or a model "
                + "directory with a " + DRAFT_FILE + " file, has a default draft)");
    }

    /** models/draft beside models/demo: the draft trained for the shipped demo model, when the target is it. */
    public static Path shippedDraft(Path target) {
        Path t = target.toAbsolutePath().normalize();
        if (!isDemo(t)) return null;
        Path d = t.resolveSibling("draft");
        return Files.isRegularFile(d.resolve("config.json")) ? d : null;
    }

    private static boolean isDemo(Path t) {
        Path name = t.getFileName();
        return name != null && name.toString().equals("demo") && t.getParent() != null;
    }
}
