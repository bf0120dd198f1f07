package moge.tokenizer;

import moge.MogeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of a SentencePiece {@code tokenizer.model} (a serialized {@code ModelProto}) that encoding and decoding
 * need. Field numbers follow {@code sentencepiece_model.proto}; absent fields take that file's proto2 defaults,
 * which is why e.g. {@code removeExtraWhitespaces} is true when the file does not mention it.
 */
public record SentencePieceModelFile(
        String[] pieces,
        float[] scores,
        int[] types,
        int modelType,
        boolean byteFallback,
        int unkId,
        int bosId,
        int eosId,
        int padId,
        String unkPiece,
        String bosPiece,
        String eosPiece,
        String padPiece,
        String unkSurface,
        String normalizerName,
        byte[] precompiledCharsmap,
        boolean addDummyPrefix,
        boolean removeExtraWhitespaces,
        boolean escapeWhitespaces) {

    public static final int MODEL_UNIGRAM = 1;
    public static final int MODEL_BPE = 2;
    public static final int MODEL_WORD = 3;
    public static final int MODEL_CHAR = 4;

    /** Real vocabularies are a few MB; anything near 2 GB cannot be a tokenizer and would not fit an array. */
    private static final long MAX_FILE_BYTES = 1L << 30;

    /** Reads and validates a model file; every failure is a one-line {@link MogeException} naming the file. */
    public static SentencePieceModelFile read(Path file) {
        String label = String.valueOf(file.getFileName());
        byte[] data;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new MogeException(label + ": " + file + " is " + size + " bytes, too large for a SentencePiece model");
            }
            data = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new MogeException(label + ": " + file + " does not exist");
        } catch (IOException e) {
            throw new MogeException(label + ": cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(data, label + ": " + file);
    }

    /** Parses model bytes; {@code source} starts every error message (e.g. "tokenizer.model: /m/tokenizer.model"). */
    public static SentencePieceModelFile parse(byte[] data, String source) {
        try {
            return new Parser().parse(data);
        } catch (ProtoReader.Malformed e) {
            throw new MogeException(source + " is not a valid SentencePiece model: " + e.getMessage());
        } catch (Invalid e) {
            throw new MogeException(source + ": " + e.getMessage());
        }
    }

    /** A well-formed file that this engine cannot or must not use. */
    private static final class Invalid extends Exception {
        Invalid(String message) {
            super(message);
        }
    }

    /** Mutable accumulator: the wire format may repeat or reorder fields, so values are collected first. */
    private static final class Parser {
        final List<String> pieces = new ArrayList<>();
        final List<Float> scores = new ArrayList<>();
        final List<Integer> types = new ArrayList<>();
        int modelType = MODEL_UNIGRAM;
        boolean byteFallback;
        boolean treatWhitespaceAsSuffix;
        int unkId = 0;
        int bosId = 1;
        int eosId = 2;
        int padId = -1;
        String unkPiece = "<unk>";
        String bosPiece = "<s>";
        String eosPiece = "</s>";
        String padPiece = "<pad>";
        String unkSurface = " \u2047 ";
        String normalizerName = "";
        byte[] charsmap = new byte[0];
        boolean addDummyPrefix = true;
        boolean removeExtraWhitespaces = true;
        boolean escapeWhitespaces = true;
        boolean sawTrainerSpec;

        SentencePieceModelFile parse(byte[] data) throws ProtoReader.Malformed, Invalid {
            ProtoReader r = new ProtoReader(data);
            while (r.next()) {
                switch (r.field()) {
                    case 1 -> piece(r.message());
                    case 2 -> trainerSpec(r.message());
                    case 3 -> normalizerSpec(r.message());
                    default -> r.skip();
                }
            }
            return validate();
        }

        private void piece(ProtoReader r) throws ProtoReader.Malformed {
            String piece = null;
            float score = 0f;
            int type = PieceType.NORMAL;
            while (r.next()) {
                switch (r.field()) {
                    case 1 -> piece = r.stringField();
                    case 2 -> score = r.fixed32AsFloat();
                    case 3 -> type = r.int32Field();
                    default -> r.skip();
                }
            }
            pieces.add(piece);
            scores.add(score);
            types.add(type);
        }

        private void trainerSpec(ProtoReader r) throws ProtoReader.Malformed {
            sawTrainerSpec = true;
            while (r.next()) {
                switch (r.field()) {
                    case 3 -> modelType = r.int32Field();
                    case 24 -> treatWhitespaceAsSuffix = r.boolField();
                    case 35 -> byteFallback = r.boolField();
                    case 40 -> unkId = r.int32Field();
                    case 41 -> bosId = r.int32Field();
                    case 42 -> eosId = r.int32Field();
                    case 43 -> padId = r.int32Field();
                    case 44 -> unkSurface = r.stringField();
                    case 45 -> unkPiece = r.stringField();
                    case 46 -> bosPiece = r.stringField();
                    case 47 -> eosPiece = r.stringField();
                    case 48 -> padPiece = r.stringField();
                    default -> r.skip();
                }
            }
        }

        private void normalizerSpec(ProtoReader r) throws ProtoReader.Malformed {
            while (r.next()) {
                switch (r.field()) {
                    case 1 -> normalizerName = r.stringField();
                    case 2 -> charsmap = r.bytesField();
                    case 3 -> addDummyPrefix = r.boolField();
                    case 4 -> removeExtraWhitespaces = r.boolField();
                    case 5 -> escapeWhitespaces = r.boolField();
                    default -> r.skip();
                }
            }
        }

        /** The checks SentencePiece itself makes when loading, so a damaged file is refused rather than misused. */
        private SentencePieceModelFile validate() throws Invalid {
            int n = pieces.size();
            if (n == 0) throw new Invalid("the model has no pieces (empty or not a SentencePiece file)");
            if (!sawTrainerSpec) throw new Invalid("the model has no trainer_spec (not a SentencePiece file?)");
            if (modelType != MODEL_BPE) {
                throw new Invalid("model_type " + modelName(modelType) + " is not supported; moge implements SentencePiece BPE only");
            }
            if (treatWhitespaceAsSuffix) throw new Invalid("treat_whitespace_as_suffix is not supported");
            String[] p = new String[n];
            float[] s = new float[n];
            int[] t = new int[n];
            Map<String, Integer> seen = new HashMap<>(n * 2);
            boolean[] bytes = new boolean[256];
            int unknowns = 0;
            for (int i = 0; i < n; i++) {
                p[i] = pieces.get(i);
                s[i] = scores.get(i);
                t[i] = types.get(i);
                if (p[i] == null || p[i].isEmpty()) throw new Invalid("piece " + i + " is empty");
                if (!PieceType.isValid(t[i])) throw new Invalid("piece " + i + " has unknown type " + t[i]);
                if (!Float.isFinite(s[i])) throw new Invalid("piece " + i + " has a non-finite score");
                Integer previous = seen.putIfAbsent(p[i], i);
                if (previous != null) throw new Invalid("piece '" + p[i] + "' is defined twice (ids " + previous + " and " + i + ")");
                if (t[i] == PieceType.UNKNOWN) unknowns++;
                if (t[i] == PieceType.BYTE) {
                    int b = BytePieces.parse(p[i]);
                    if (b < 0) throw new Invalid("byte piece " + i + " '" + p[i] + "' is not of the form <0xXX>");
                    bytes[b] = true;
                }
            }
            if (unknowns != 1) throw new Invalid("the model must have exactly one UNKNOWN piece, found " + unknowns);
            if (byteFallback) {
                for (int b = 0; b < 256; b++) {
                    if (!bytes[b]) throw new Invalid("byte_fallback is set but piece " + BytePieces.name(b) + " is missing");
                }
            }
            return new SentencePieceModelFile(p, s, t, modelType, byteFallback, unkId, bosId, eosId, padId,
                    unkPiece, bosPiece, eosPiece, padPiece, unkSurface, normalizerName, charsmap,
                    addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces);
        }

        private static String modelName(int type) {
            return switch (type) {
                case MODEL_UNIGRAM -> "UNIGRAM";
                case MODEL_BPE -> "BPE";
                case MODEL_WORD -> "WORD";
                case MODEL_CHAR -> "CHAR";
                default -> String.valueOf(type);
            };
        }
    }
}
