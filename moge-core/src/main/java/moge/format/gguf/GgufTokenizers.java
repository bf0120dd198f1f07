package moge.format.gguf;

import moge.MogeException;
import moge.tokenizer.BpePreTokenizer;
import moge.tokenizer.ByteBpeTokenizer;
import moge.tokenizer.SpecialTokens;
import moge.tokenizer.Tokenizer;

import static moge.format.gguf.GgufNames.*;

/**
 * The tokenizer stored in GGUF metadata ({@code tokenizer.ggml.*}), with llama.cpp's defaults for what a
 * file leaves out. {@code gpt2} builds a byte-level BPE; {@code llama} (SentencePiece) is not wired yet;
 * {@code none} or no tokenizer gives null (the model still runs on token ids).
 */
public final class GgufTokenizers {
    private GgufTokenizers() {
    }

    public static Tokenizer load(GgufFile f) {
        GgufMetadata md = f.metadata();
        String fn = f.describe();
        if (!md.has(TOK_MODEL)) return null;
        String model = md.string(TOK_MODEL);
        return switch (model) {
            case "gpt2" -> bpe(md, fn);
            // TODO(sentencepiece): build moge.tokenizer.SentencePieceTokenizer from tokens/scores/token_type,
            // add_space_prefix and the special ids once it is on main.
            case "llama" -> null;
            case "none", "no_vocab" -> null;
            default -> throw new MogeException(fn + ": tokenizer model '" + model + "' is not supported (gpt2 or llama)");
        };
    }

    private static Tokenizer bpe(GgufMetadata md, String fn) {
        String[] tokens = md.strings(TOK_TOKENS);
        int[] types = md.has(TOK_TYPES) ? md.ints(TOK_TYPES) : null;
        if (types != null && types.length != tokens.length) {
            throw new MogeException(fn + ": " + TOK_TYPES + " has " + types.length + " entries for " + tokens.length + " tokens");
        }
        String[] merges = md.has(TOK_MERGES) ? md.strings(TOK_MERGES) : new String[0];
        String preName = md.string(TOK_PRE, null);
        BpePreTokenizer pre = BpePreTokenizer.forName(preName);
        if (pre == null) throw new MogeException(fn + ": BPE pre-tokenizer '" + preName + "' (" + TOK_PRE + ") is not supported");
        int n = tokens.length;
        SpecialTokens special = new SpecialTokens(id(md, fn, TOK_BOS, n), id(md, fn, TOK_EOS, n), id(md, fn, TOK_PAD, n),
                id(md, fn, TOK_UNK, n), md.bool(TOK_ADD_BOS, pre.addBosDefault()));
        return new ByteBpeTokenizer(tokens, types, merges, pre, special);
    }

    private static int id(GgufMetadata md, String fn, String key, int n) {
        if (!md.has(key)) return -1;
        long v = md.integer(key);
        if (v < 0 || v >= n) throw new MogeException(fn + ": " + key + " " + v + " is outside the vocabulary of " + n + " tokens");
        return (int) v;
    }

    /** The Jinja chat template stored in the file, or null. */
    public static String chatTemplate(GgufFile f) {
        return f.metadata().string(CHAT_TEMPLATE, null);
    }
}
