package moge.tokenizer;

import moge.MogeException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A SentencePiece BPE tokenizer that behaves like the upstream slow Hugging Face tokenizer of openPangu
 * ({@code PanguTokenizer}, Llama-like with legacy=true): the text is first split on added tokens, matched atomically
 * and longest first; every remaining segment is then normalized and BPE-encoded on its own, each with its own dummy
 * "▁" prefix. Decoding mirrors it: added tokens are emitted verbatim and every run of ordinary pieces between them
 * is decoded by SentencePiece's rules, which drop the leading space of the run.
 */
public final class SentencePieceTokenizer implements Tokenizer {

    /**
     * Normalizer and fallback settings. {@code precompiledCharsmap} may be null (identity normalization, the case
     * for openPangu); {@code unkSurface} is how a decoded unknown piece reads when it is not an added token.
     */
    public record Settings(boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces,
                           boolean byteFallback, byte[] precompiledCharsmap, String unkSurface) {
        /** Settings as GGUF carries them: no charsmap and no space collapsing, like llama.cpp's SPM tokenizer. */
        public static Settings of(boolean addDummyPrefix, boolean byteFallback) {
            return new Settings(addDummyPrefix, false, true, byteFallback, null, " \u2047 ");
        }

        public static Settings of(SentencePieceModelFile m) {
            return new Settings(m.addDummyPrefix(), m.removeExtraWhitespaces(), m.escapeWhitespaces(), m.byteFallback(),
                    m.precompiledCharsmap(), m.unkSurface());
        }
    }

    /**
     * A Hugging Face added token: found atomically in text, decoded verbatim. {@code lstrip}/{@code rstrip} make it
     * swallow the whitespace on that side, as HF's {@code AddedToken} flags do. Its id may lie past the pieces.
     */
    public record AddedToken(int id, String content, boolean lstrip, boolean rstrip) {
        public AddedToken(int id, String content) {
            this(id, content, false, false);
        }
    }

    // decode behaviour of an id
    static final byte TEXT = 0;
    static final byte BYTE = 1;
    static final byte VERBATIM = 2;
    static final byte INVISIBLE = 3;
    static final byte UNK = 4;

    private static final int MAX_EXTRA_ADDED_IDS = 1 << 20;

    private final String[] pieces;
    private final int[] types;
    private final byte[] kinds;
    private final int[] byteOf;
    private final int[] byteIds = new int[256];
    private final Map<String, Integer> pieceIds;
    private final Map<String, Integer> addedIds = new HashMap<>();
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final List<AddedToken> added;
    private final LongestMatcher addedMatcher;
    private final LongestMatcher userDefined;
    private final SentencePieceNormalizer normalizer;
    private final SentencePieceBpe bpe;
    private final Settings settings;
    private final SpecialTokens special;
    private final int[] eosIds;
    private final int spUnkId;
    private final boolean byteFallback;

    /** From plain arrays (e.g. GGUF), with CONTROL, USER_DEFINED and UNKNOWN pieces as the atomic special tokens. */
    public SentencePieceTokenizer(String[] pieces, float[] scores, int[] types,
                                  boolean addDummyPrefix, boolean byteFallback, SpecialTokens special) {
        this(pieces, scores, types, Settings.of(addDummyPrefix, byteFallback), special, null, null);
    }

    /**
     * The general constructor. {@code scores} and {@code types} may be null (all 0 / all NORMAL); types outside
     * {@link PieceType} count as NORMAL.
     * {@code addedTokens} null means the CONTROL, USER_DEFINED and UNKNOWN pieces; {@code eosIds} null means
     * just {@code special.eos()}.
     */
    public SentencePieceTokenizer(String[] pieces, float[] scores, int[] types, Settings settings, SpecialTokens special,
                                  List<AddedToken> addedTokens, int[] eosIds) {
        Objects.requireNonNull(pieces, "pieces");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(special, "special");
        int spSize = pieces.length;
        if (spSize == 0) throw new MogeException("tokenizer: the vocabulary is empty");
        if (scores != null && scores.length != spSize || types != null && types.length != spSize) {
            throw new MogeException("tokenizer: " + spSize + " pieces but " + (scores == null ? "-" : scores.length)
                    + " scores and " + (types == null ? "-" : types.length) + " token types");
        }
        float[] sc = scores != null ? scores.clone() : new float[spSize];
        int[] ty = types != null ? types.clone() : filled(spSize, PieceType.NORMAL);
        // GGUF may say 0 (UNDEFINED) or carry types SentencePiece does not know: treat those as ordinary pieces
        for (int i = 0; i < spSize; i++) if (!PieceType.isValid(ty[i])) ty[i] = PieceType.NORMAL;
        if (addedTokens == null) addedTokens = defaultAddedTokens(pieces, ty);

        int size = spSize;
        for (AddedToken t : addedTokens) {
            // added tokens extend a vocabulary by a handful of ids; a huge id is a broken config, not a table to allocate
            if (t.id() < 0 || t.id() > spSize + MAX_EXTRA_ADDED_IDS || t.content() == null || t.content().isEmpty()) {
                throw new MogeException("tokenizer: invalid added token " + t + " for a vocabulary of " + spSize + " pieces");
            }
            size = Math.max(size, t.id() + 1);
        }
        this.pieces = Arrays.copyOf(pieces, size);
        this.types = Arrays.copyOf(ty, size);
        this.kinds = new byte[size];
        this.byteOf = filled(size, -1);
        this.settings = settings;
        this.special = special;

        Map<String, Integer> all = new HashMap<>(spSize * 2);
        Map<String, Integer> mergeable = new HashMap<>(spSize * 2);
        List<String> userDefinedPieces = new ArrayList<>();
        Arrays.fill(byteIds, -1);
        int unk = -1;
        for (int id = 0; id < spSize; id++) {
            String p = pieces[id];
            if (p == null) throw new MogeException("tokenizer: piece " + id + " is missing");
            int t = ty[id];
            // duplicates occur in some converted vocabularies; like SentencePiece, the first id wins
            all.putIfAbsent(p, id);
            switch (t) {
                case PieceType.NORMAL, PieceType.UNUSED -> mergeable.putIfAbsent(p, id);
                case PieceType.USER_DEFINED -> {
                    mergeable.putIfAbsent(p, id);
                    userDefinedPieces.add(p);
                }
                case PieceType.UNKNOWN -> {
                    if (unk < 0) unk = id;
                    kinds[id] = UNK;
                }
                case PieceType.CONTROL -> kinds[id] = INVISIBLE;
                case PieceType.BYTE -> {
                    int b = BytePieces.parse(p);
                    if (b >= 0) {
                        byteOf[id] = b;
                        kinds[id] = BYTE;
                        if (byteIds[b] < 0) byteIds[b] = id;
                    }
                }
            }
        }
        for (int id = spSize; id < size; id++) {
            this.pieces[id] = "";
            this.types[id] = PieceType.CONTROL;
            kinds[id] = INVISIBLE;
        }
        List<String> addedContents = new ArrayList<>();
        for (AddedToken t : addedTokens) {
            this.pieces[t.id()] = t.content();
            this.types[t.id()] = t.id() < spSize ? ty[t.id()] : PieceType.USER_DEFINED;
            kinds[t.id()] = VERBATIM;
            byteOf[t.id()] = -1;
            addedIds.putIfAbsent(t.content(), t.id());
            addedById.put(t.id(), t);
            addedContents.add(t.content());
        }
        this.added = addedTokens.stream().sorted(Comparator.comparingInt(AddedToken::id)).toList();
        this.pieceIds = all;
        this.spUnkId = unk >= 0 ? unk : special.unk();
        this.byteFallback = settings.byteFallback();
        this.addedMatcher = new LongestMatcher(addedContents);
        this.userDefined = userDefinedPieces.isEmpty() ? null : new LongestMatcher(userDefinedPieces);
        PrecompiledCharsmap charsmap;
        try {
            charsmap = PrecompiledCharsmap.parse(settings.precompiledCharsmap());
        } catch (IllegalArgumentException e) {
            throw new MogeException("tokenizer: " + e.getMessage());
        }
        this.normalizer = new SentencePieceNormalizer(settings.addDummyPrefix(), settings.removeExtraWhitespaces(),
                settings.escapeWhitespaces(), charsmap, userDefined);
        this.bpe = new SentencePieceBpe(mergeable, sc, ty);
        this.eosIds = eosIds != null ? eosIds.clone() : special.eos() >= 0 ? new int[]{special.eos()} : new int[0];
    }

    /** From a parsed {@code tokenizer.model} alone (no Hugging Face config): its own ids for BOS/EOS/PAD/UNK. */
    public static SentencePieceTokenizer fromModel(SentencePieceModelFile model, boolean addBos) {
        SpecialTokens s = new SpecialTokens(validId(model.bosId(), model), validId(model.eosId(), model),
                validId(model.padId(), model), validId(model.unkId(), model), addBos);
        return new SentencePieceTokenizer(model.pieces(), model.scores(), model.types(), Settings.of(model), s, null, null);
    }

    /** Loads {@code tokenizer.model} and the Hugging Face JSON configs of a model directory. */
    public static SentencePieceTokenizer loadHf(Path modelDir) {
        return HfTokenizerLoader.load(modelDir);
    }

    private static int validId(int id, SentencePieceModelFile m) {
        return id >= 0 && id < m.pieces().length ? id : -1;
    }

    private static List<AddedToken> defaultAddedTokens(String[] pieces, int[] types) {
        List<AddedToken> out = new ArrayList<>();
        for (int id = 0; id < pieces.length; id++) {
            int t = types[id];
            if ((t == PieceType.CONTROL || t == PieceType.USER_DEFINED || t == PieceType.UNKNOWN)
                    && pieces[id] != null && !pieces[id].isEmpty()) {
                out.add(new AddedToken(id, pieces[id]));
            }
        }
        return out;
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }

    // ---------------------------------------------------------------- encoding

    @Override
    public int[] encode(String text) {
        IntList out = new IntList(Math.max(16, text.length() / 3));
        List<Object> parts = splitOnAddedTokens(text);
        for (Object part : parts) {
            if (part instanceof AddedToken t) {
                out.add(t.id());
            } else {
                String segment = (String) part;
                if (!segment.isEmpty()) encodeSegment(segment, out);
            }
        }
        return out.toArray();
    }

    /** Text segments (String) and added tokens in order, with the strip flags of the tokens applied. */
    private List<Object> splitOnAddedTokens(String text) {
        List<Object> parts = new ArrayList<>();
        int segmentStart = 0;
        int i = 0;
        while (i < text.length()) {
            int m = addedMatcher.match(text, i);
            if (m == 0) {
                i++;
                continue;
            }
            parts.add(text.substring(segmentStart, i));
            parts.add(addedById.get(addedIds.get(text.substring(i, i + m))));
            i += m;
            segmentStart = i;
        }
        parts.add(text.substring(segmentStart));
        for (int k = 1; k < parts.size(); k += 2) {
            AddedToken t = (AddedToken) parts.get(k);
            if (t.lstrip()) parts.set(k - 1, rstrip((String) parts.get(k - 1)));
            if (t.rstrip()) parts.set(k + 1, lstrip((String) parts.get(k + 1)));
        }
        return parts;
    }

    private static String lstrip(String s) {
        int i = 0;
        while (i < s.length() && isPythonSpace(s.charAt(i))) i++;
        return s.substring(i);
    }

    private static String rstrip(String s) {
        int i = s.length();
        while (i > 0 && isPythonSpace(s.charAt(i - 1))) i--;
        return s.substring(0, i);
    }

    /** Python's str.isspace for one char, which HF's strip flags rely on (it includes NBSP, unlike Java's). */
    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** SentencePiece's own encode of one segment: normalize, BPE, then ids with byte fallback or merged unknowns. */
    private void encodeSegment(String segment, IntList out) {
        String normalized = normalizer.normalize(segment);
        if (normalized.isEmpty()) return;
        boolean prevUnknown = false;
        for (String piece : bpe.segment(normalized, userDefined)) {
            Integer id = pieceIds.get(piece);
            boolean unknown = id == null || id == spUnkId;
            if (!unknown) {
                out.add(id);
                prevUnknown = false;
            } else if (byteFallback) {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    int byteId = byteIds[b & 0xff];
                    out.add(byteId >= 0 ? byteId : spUnkId);
                }
                prevUnknown = false;
            } else if (!prevUnknown && spUnkId >= 0) {
                // SentencePiece reports a run of unknown characters as one unknown piece
                out.add(spUnkId);
                prevUnknown = true;
            }
        }
    }

    // ---------------------------------------------------------------- decoding

    @Override
    public String decode(int[] ids) {
        StringBuilder out = new StringBuilder(ids.length * 4);
        byte[] bytes = new byte[16];
        int nBytes = 0;
        int runStart = 0;           // where the current run of ordinary pieces began in out
        boolean isBosWs = true;     // SentencePiece strips "▁" from the first text of a run...
        boolean bosWsSeen = false;  // ...until one was stripped or text appeared
        for (int id : ids) {
            byte kind = kind(id);
            if (kind == BYTE) {
                if (nBytes == bytes.length) bytes = Arrays.copyOf(bytes, nBytes * 2);
                bytes[nBytes++] = (byte) byteOf[id];
                continue;
            }
            BytePieces.decode(bytes, nBytes, true, out);
            nBytes = 0;
            if (kind == VERBATIM) {
                out.append(pieces[id]);
                runStart = out.length();
                isBosWs = true;
                bosWsSeen = false;
                continue;
            }
            if (bosWsSeen || out.length() > runStart) isBosWs = false;
            bosWsSeen = appendPiece(id, kind, isBosWs, out);
        }
        BytePieces.decode(bytes, nBytes, true, out);
        return out.toString();
    }

    @Override
    public StreamDecoder newStreamDecoder(TextMode mode) {
        return new SentencePieceStreamDecoder(this, mode);
    }

    /** Decode behaviour of an id; ids outside the vocabulary (a model may pad its output) decode to nothing. */
    byte kind(int id) {
        return id < 0 || id >= kinds.length ? INVISIBLE : kinds[id];
    }

    int byteOf(int id) {
        return byteOf[id];
    }

    /**
     * Appends the text of a non-byte, non-verbatim piece the way SentencePiece decodes it; returns whether a leading
     * "▁" was consumed as the dummy prefix (which stops further stripping in this run).
     */
    boolean appendPiece(int id, byte kind, boolean isBosWs, StringBuilder out) {
        if (kind == INVISIBLE) return false;
        if (kind == UNK) {
            out.append(settings.unkSurface());
            return false;
        }
        String p = pieces[id];
        boolean consumed = false;
        if (isBosWs && (settings.addDummyPrefix() || settings.removeExtraWhitespaces())
                && !p.isEmpty() && p.charAt(0) == SentencePieceNormalizer.SPACE_SYMBOL) {
            p = p.substring(1);
            // with extra-whitespace removal SentencePiece keeps stripping until real text shows up
            consumed = !settings.removeExtraWhitespaces();
        }
        out.append(p.replace(SentencePieceNormalizer.SPACE_SYMBOL, ' '));
        return consumed;
    }

    /**
     * A piece's text with "▁" as a space (its leading one included: a reply that starts a run with it drops
     * it, which only removes white space), a byte piece's byte; null for added, control, unused and unknown pieces.
     */
    @Override
    public byte[] textBytes(int id) {
        byte kind = kind(id);
        if (kind == BYTE) return new byte[]{(byte) byteOf[id]};
        if (kind != TEXT || types[id] == PieceType.UNUSED || pieces[id].isEmpty()) return null;
        return pieces[id].replace(SentencePieceNormalizer.SPACE_SYMBOL, ' ').getBytes(StandardCharsets.UTF_8);
    }

    String verbatim(int id) {
        return pieces[id];
    }

    // ---------------------------------------------------------------- vocabulary

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public String piece(int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + pieces.length);
        return pieces[id];
    }

    /** The SentencePiece type of an id ({@link PieceType}); added tokens past the model's pieces are USER_DEFINED. */
    public int pieceType(int id) {
        if (id < 0 || id >= types.length) throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + types.length);
        return types[id];
    }

    @Override
    public OptionalInt tokenId(String piece) {
        Integer id = addedIds.get(piece);
        if (id == null) id = pieceIds.get(piece);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public SpecialTokens special() {
        return special;
    }

    @Override
    public int[] eosIds() {
        return eosIds.clone();
    }

    /** The added tokens, matched atomically when encoding. */
    public List<AddedToken> addedTokens() {
        return added;
    }

    public Settings settings() {
        return settings;
    }

    /** A growable int array, so long prompts do not box every id. */
    private static final class IntList {
        private int[] a;
        private int n;

        IntList(int capacity) {
            a = new int[capacity];
        }

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2 + 1);
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
