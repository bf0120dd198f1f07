package moge.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a {@link SentencePieceTokenizer} from a Hugging Face model directory the way the slow upstream tokenizer
 * sees it: {@code tokenizer.model} for the pieces; {@code tokenizer_config.json} (falling back to
 * {@code special_tokens_map.json}) for the added tokens, the BOS policy and the special token names, which are
 * resolved to ids by name; {@code generation_config.json} and {@code config.json} for further EOS ids.
 */
public final class HfTokenizerLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTokenizerLoader() {
    }

    public static SentencePieceTokenizer load(Path modelDir) {
        Path modelFile = modelDir.resolve("tokenizer.model");
        if (!Files.isRegularFile(modelFile)) {
            throw new MogeException("tokenizer.model: not found in " + modelDir
                    + " (openPangu checkpoints ship a SentencePiece tokenizer.model)");
        }
        SentencePieceModelFile model = SentencePieceModelFile.read(modelFile);
        JsonNode config = readJson(modelDir.resolve("tokenizer_config.json"));
        JsonNode specialMap = readJson(modelDir.resolve("special_tokens_map.json"));

        String[] pieces = model.pieces();
        List<SentencePieceTokenizer.AddedToken> added = addedTokens(config, modelDir.resolve("tokenizer_config.json"), model);
        // HF always treats the named special tokens as added tokens, whether or not the config lists them
        Set<String> names = new LinkedHashSet<>();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            String name = tokenName(config, specialMap, key);
            if (name != null) names.add(name);
        }
        for (JsonNode extra : firstPresent(config, specialMap, "additional_special_tokens")) {
            String name = tokenContent(extra);
            if (name != null) names.add(name);
        }
        Set<String> present = new HashSet<>();
        added.forEach(t -> present.add(t.content()));
        for (String name : names) {
            if (present.contains(name)) continue;
            int id = indexOf(pieces, name);
            if (id >= 0) added.add(new SentencePieceTokenizer.AddedToken(id, name));
        }

        int bos = resolve(tokenName(config, specialMap, "bos_token"), model.bosPiece(), added, pieces);
        int unk = resolve(tokenName(config, specialMap, "unk_token"), model.unkPiece(), added, pieces);
        int pad = resolve(tokenName(config, specialMap, "pad_token"), null, added, pieces);
        int eosByName = resolve(tokenName(config, specialMap, "eos_token"), model.eosPiece(), added, pieces);
        boolean addBos = bool(config, "add_bos_token", true);

        int vocab = pieces.length;
        for (SentencePieceTokenizer.AddedToken t : added) vocab = Math.max(vocab, t.id() + 1);
        LinkedHashSet<Integer> eos = new LinkedHashSet<>();
        if (eosByName >= 0) eos.add(eosByName);
        eos.addAll(configIds(modelDir.resolve("generation_config.json"), "eos_token_id", vocab));
        eos.addAll(configIds(modelDir.resolve("config.json"), "eos_token_id", vocab));
        int[] eosIds = eos.stream().mapToInt(Integer::intValue).toArray();

        SpecialTokens special = new SpecialTokens(bos, eosIds.length > 0 ? eosIds[0] : -1, pad, unk, addBos);
        return new SentencePieceTokenizer(pieces, model.scores(), model.types(),
                SentencePieceTokenizer.Settings.of(model), special, added, eosIds);
    }

    /**
     * The {@code added_tokens_decoder} entries. Configs without that key (old or missing) get the pieces SentencePiece
     * marks CONTROL, USER_DEFINED or UNKNOWN instead, which is what such configs' special tokens are in practice.
     */
    private static List<SentencePieceTokenizer.AddedToken> addedTokens(JsonNode config, Path file, SentencePieceModelFile model) {
        List<SentencePieceTokenizer.AddedToken> out = new ArrayList<>();
        JsonNode decoder = config == null ? null : config.get("added_tokens_decoder");
        if (decoder == null || !decoder.isObject()) {
            for (int id = 0; id < model.pieces().length; id++) {
                int t = model.types()[id];
                if (t == PieceType.CONTROL || t == PieceType.USER_DEFINED || t == PieceType.UNKNOWN) {
                    out.add(new SentencePieceTokenizer.AddedToken(id, model.pieces()[id]));
                }
            }
            return out;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey());
            } catch (NumberFormatException ex) {
                throw new MogeException(file.getFileName() + ": added_tokens_decoder key '" + e.getKey() + "' is not a token id (" + file + ")");
            }
            String content = tokenContent(e.getValue());
            if (id < 0 || content == null || content.isEmpty()) {
                throw new MogeException(file.getFileName() + ": added_tokens_decoder entry " + e.getKey() + " has no content (" + file + ")");
            }
            JsonNode v = e.getValue();
            out.add(new SentencePieceTokenizer.AddedToken(id, content,
                    v.path("lstrip").asBoolean(false), v.path("rstrip").asBoolean(false)));
        }
        return out;
    }

    private static String tokenName(JsonNode config, JsonNode specialMap, String key) {
        for (JsonNode source : new JsonNode[]{config, specialMap}) {
            if (source == null || !source.has(key)) continue;
            String name = tokenContent(source.get(key));
            if (name != null) return name;
        }
        return null;
    }

    private static Iterable<JsonNode> firstPresent(JsonNode config, JsonNode specialMap, String key) {
        for (JsonNode source : new JsonNode[]{config, specialMap}) {
            if (source != null && source.path(key).isArray()) return source.get(key);
        }
        return List.of();
    }

    /** A special token given either as a plain string or as a serialized AddedToken object. */
    private static String tokenContent(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.isObject() && node.path("content").isTextual()) return node.get("content").asText();
        return null;
    }

    private static int resolve(String name, String fallback, List<SentencePieceTokenizer.AddedToken> added, String[] pieces) {
        String n = name != null ? name : fallback;
        if (n == null) return -1;
        for (SentencePieceTokenizer.AddedToken t : added) {
            if (t.content().equals(n)) return t.id();
        }
        return indexOf(pieces, n);
    }

    private static int indexOf(String[] pieces, String s) {
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i].equals(s)) return i;
        }
        return -1;
    }

    /** HF's PanguTokenizer accepts "true"/"false" strings here as well as booleans. */
    private static boolean bool(JsonNode config, String key, boolean dflt) {
        JsonNode v = config == null ? null : config.get(key);
        if (v == null || v.isNull()) return dflt;
        if (v.isBoolean()) return v.asBoolean();
        if (v.isTextual() && v.asText().equalsIgnoreCase("true")) return true;
        if (v.isTextual() && v.asText().equalsIgnoreCase("false")) return false;
        return dflt;
    }

    /** An id or list of ids under {@code key}; absent file or key gives none, a bad value is an error. */
    private static List<Integer> configIds(Path file, String key, int vocab) {
        JsonNode root = readJson(file);
        List<Integer> out = new ArrayList<>();
        JsonNode v = root == null ? null : root.get(key);
        if (v == null || v.isNull()) return out;
        List<JsonNode> items = new ArrayList<>();
        if (v.isArray()) v.forEach(items::add);
        else items.add(v);
        for (JsonNode item : items) {
            if (!item.isIntegralNumber() || item.asLong() < 0 || item.asLong() >= vocab) {
                throw new MogeException(file.getFileName() + ": " + key + " " + item + " is not a token id of this "
                        + vocab + "-token vocabulary (" + file + ")");
            }
            out.add(item.asInt());
        }
        return out;
    }

    /** The parsed JSON file, or null when it does not exist. */
    static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) return null;
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) {
                throw new MogeException(file.getFileName() + ": " + file + " is not a JSON object");
            }
            return node;
        } catch (IOException e) {
            throw new MogeException(file.getFileName() + ": cannot parse " + file + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
