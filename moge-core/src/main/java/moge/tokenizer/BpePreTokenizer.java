package moge.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The word splitting that runs before byte-level BPE, chosen by GGUF's {@code tokenizer.ggml.pre} as
 * llama.cpp does (llama-vocab.cpp): a list of regexes applied one after another, each splitting every
 * fragment into its matches and the text between them. The patterns are llama.cpp's, with \s meaning
 * Unicode White_Space as in its unicode tables.
 */
public final class BpePreTokenizer {
    private static final String CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private static final String LLAMA3 = CONTRACTIONS
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = CONTRACTIONS
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

    private final String name;
    private final Pattern[] patterns;
    private final boolean ignoreMerges;
    private final boolean addBosDefault;

    private BpePreTokenizer(String name, boolean ignoreMerges, boolean addBosDefault, String... regexes) {
        this.name = name;
        this.ignoreMerges = ignoreMerges;
        this.addBosDefault = addBosDefault;
        this.patterns = new Pattern[regexes.length];
        for (int i = 0; i < regexes.length; i++) patterns[i] = Pattern.compile(regexes[i], Pattern.UNICODE_CHARACTER_CLASS);
    }

    /**
     * The pre-tokenizer for a {@code tokenizer.ggml.pre} value; null for one moge does not know. A missing
     * value means llama.cpp's "default" set.
     */
    public static BpePreTokenizer forName(String pre) {
        String p = pre == null ? "default" : pre.toLowerCase(Locale.ROOT);
        return switch (p) {
            case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral" -> new BpePreTokenizer(p, true, true, LLAMA3);
            case "dbrx", "smaug-bpe" -> new BpePreTokenizer(p, false, false, LLAMA3);
            case "qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan" -> new BpePreTokenizer(p, false, false, QWEN2);
            case "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion" -> new BpePreTokenizer(p, false, false, GPT2);
            case "default" -> new BpePreTokenizer(p, false, false,
                    "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
            default -> null;
        };
    }

    public String name() {
        return name;
    }

    /** llama.cpp takes a whole word that is in the vocabulary as one token before merging (llama3 family). */
    public boolean ignoreMerges() {
        return ignoreMerges;
    }

    /** Whether llama.cpp prepends BOS when the file does not say (tokenizer.ggml.add_bos_token). */
    public boolean addBosDefault() {
        return addBosDefault;
    }

    /** The words of {@code text}, in order; their concatenation is the text. */
    public List<String> split(String text) {
        List<String> words = new ArrayList<>();
        if (text.isEmpty()) return words;
        words.add(text);
        for (Pattern p : patterns) {
            List<String> next = new ArrayList<>(words.size() * 2);
            for (String w : words) {
                Matcher m = p.matcher(w);
                int last = 0;
                while (m.find()) {
                    if (m.end() == m.start()) continue;
                    if (m.start() > last) next.add(w.substring(last, m.start()));
                    next.add(w.substring(m.start(), m.end()));
                    last = m.end();
                }
                if (last < w.length()) next.add(w.substring(last));
            }
            words = next;
        }
        return words;
    }
}
