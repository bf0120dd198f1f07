package moge.train.vocab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small openPangu-style SentencePiece vocabulary: {@code <unk> <s> </s>}, the legacy {@code <|User|>:} and
 * {@code <|Bot|>:}, {@code [unused0]}..{@code [unused33]} (turn start [unused9], turn end and EOS [unused10],
 * think markers [unused16]/[unused17]), the 256 byte-fallback pieces, then BPE merges learned from the
 * project's own text and the single characters of that text — the order and score scheme spm_train uses.
 * {@link #write} produces the Hugging Face tokenizer files of an openPangu checkpoint.
 */
public final class Vocabulary {
    /** The openPangu chat template, verbatim from the released tokenizer_config.json. */
    public static final String CHAT_TEMPLATE = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '[unused9]系统：[unused10]' }}{% endif %}{% if message['role'] == 'system' %}"
            + "{{ '[unused9]系统：' + message['content'] + '[unused10]' }}{% endif %}{% if message['role'] == 'assistant' %}"
            + "{{'[unused9]助手：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'tool' %}"
            + "{{'[unused9]工具：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'function' %}"
            + "{{'[unused9]方法：' + message['content'] + '[unused10]'}}{% endif %}{% if message['role'] == 'user' %}"
            + "{{'[unused9]用户：' + message['content'] + '[unused10]'}}{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '[unused9]助手：' }}{% endif %}";

    public static final String BOS = "<s>", EOS = "[unused10]", UNK = "<unk>";
    public static final String TURN_START = "[unused9]", TURN_END = "[unused10]", THINK_START = "[unused16]", THINK_END = "[unused17]";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<SentencePieceWriter.Piece> pieces;
    private final List<String> specials;

    private Vocabulary(List<SentencePieceWriter.Piece> pieces, List<String> specials) {
        this.pieces = pieces;
        this.specials = specials;
    }

    /** The special tokens, in id order from 0: the added tokens of tokenizer_config.json. */
    public static List<String> specialTokens() {
        List<String> s = new ArrayList<>(List.of(UNK, BOS, "</s>", "<|User|>:", "<|Bot|>:"));
        for (int i = 0; i <= 33; i++) s.add("[unused" + i + "]");
        return s;
    }

    /**
     * Learns the vocabulary from text segments (text between special tokens) so that it has exactly
     * {@code size} pieces; fails if the text has too many distinct characters for that size.
     */
    public static Vocabulary train(List<String> segments, int size) {
        List<String> specials = specialTokens();
        int fixed = specials.size() + 256;
        BpeTrainer.Result chars = BpeTrainer.train(segments, 0);
        int merges = size - fixed - chars.chars().size();
        if (merges < 0) {
            throw new MogeException("vocabulary size " + size + " is too small for " + chars.chars().size() + " characters");
        }
        BpeTrainer.Result r = BpeTrainer.train(segments, merges);
        List<SentencePieceWriter.Piece> p = new ArrayList<>();
        for (String s : specials) {
            int type = s.equals(UNK) ? SentencePieceWriter.UNKNOWN
                    : s.equals(BOS) || s.equals("</s>") ? SentencePieceWriter.CONTROL : SentencePieceWriter.USER_DEFINED;
            p.add(new SentencePieceWriter.Piece(s, 0f, type));
        }
        for (int b = 0; b < 256; b++) p.add(new SentencePieceWriter.Piece(String.format(Locale.ROOT, "<0x%02X>", b), 0f, SentencePieceWriter.BYTE));
        int rank = 0;
        for (String m : r.merges()) p.add(new SentencePieceWriter.Piece(m, -rank++, SentencePieceWriter.NORMAL));
        for (String c : r.chars()) p.add(new SentencePieceWriter.Piece(c, -rank++, SentencePieceWriter.NORMAL));
        // too few distinct pairs to merge: pad with never-used pieces so the size is what the config says
        for (int i = 0; p.size() < size; i++) p.add(new SentencePieceWriter.Piece("<pad_" + i + ">", -rank++, SentencePieceWriter.USER_DEFINED));
        return new Vocabulary(p, specials);
    }

    /**
     * Splits documents into what SentencePiece encodes on its own: the text between special tokens, line by line
     * (spm_train reads lines, so a newline is never part of a piece and falls back to its byte).
     */
    public static List<String> segments(List<String> docs) {
        List<String> specials = specialTokens();
        List<String> out = new ArrayList<>();
        for (String d : docs) {
            String s = d;
            for (String sp : specials) s = s.replace(sp, "\n");
            for (String line : s.split("\n")) if (!line.isEmpty()) out.add(line);
        }
        return out;
    }

    public int size() {
        return pieces.size();
    }

    public List<SentencePieceWriter.Piece> pieces() {
        return pieces;
    }

    public int id(String piece) {
        for (int i = 0; i < pieces.size(); i++) if (pieces.get(i).piece().equals(piece)) return i;
        throw new IllegalArgumentException("no piece " + piece);
    }

    public byte[] modelBytes() {
        List<String> userDefined = specials.subList(3, specials.size());
        return SentencePieceWriter.write(pieces, userDefined, id(UNK), id(BOS), id("</s>"));
    }

    /** Writes tokenizer.model, tokenizer_config.json and special_tokens_map.json into {@code dir}. */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("tokenizer.model"), modelBytes());
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("add_bos_token", true);
        cfg.put("add_eos_token", false);
        cfg.put("add_prefix_space", true);
        ObjectNode added = cfg.putObject("added_tokens_decoder");
        for (int i = 0; i < specials.size(); i++) {
            ObjectNode t = added.putObject(Integer.toString(i));
            t.put("content", specials.get(i));
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
            t.put("special", true);
        }
        cfg.putObject("auto_map").putArray("AutoTokenizer").add("tokenization_openpangu.PanguTokenizer").addNull();
        cfg.put("bos_token", BOS);
        cfg.put("clean_up_tokenization_spaces", false);
        cfg.put("eos_token", EOS);
        cfg.put("legacy", true);
        cfg.put("model_max_length", new java.math.BigInteger("1000000000000000019884624838656"));
        cfg.put("pad_token", UNK);
        cfg.putObject("sp_model_kwargs");
        cfg.put("spaces_between_special_tokens", false);
        cfg.put("tokenizer_class", "PanguTokenizer");
        cfg.put("unk_token", UNK);
        cfg.put("use_default_system_prompt", false);
        cfg.put("chat_template", CHAT_TEMPLATE);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("tokenizer_config.json").toFile(), cfg);
        ObjectNode map = JSON.createObjectNode();
        for (String[] kv : new String[][]{{"bos_token", BOS}, {"eos_token", EOS}, {"pad_token", UNK}, {"unk_token", UNK}}) {
            ObjectNode t = map.putObject(kv[0]);
            t.put("content", kv[1]);
            t.put("lstrip", false);
            t.put("normalized", false);
            t.put("rstrip", false);
            t.put("single_word", false);
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("special_tokens_map.json").toFile(), map);
    }
}
