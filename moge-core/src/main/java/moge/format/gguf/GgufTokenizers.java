package moge.format.gguf;

import moge.MogeException;
import moge.chat.ChatTemplate;
import moge.model.Arch;
import moge.tokenizer.BpePreTokenizer;
import moge.tokenizer.ByteBpeTokenizer;
import moge.tokenizer.PieceType;
import moge.tokenizer.SentencePieceTokenizer;
import moge.tokenizer.SpecialTokens;
import moge.tokenizer.Tokenizer;

import static moge.format.gguf.GgufNames.*;

/**
 * The tokenizer stored in GGUF metadata ({@code tokenizer.ggml.*}), with llama.cpp's defaults for what a
 * file leaves out: {@code gpt2} builds a byte-level BPE, {@code llama} a SentencePiece tokenizer;
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
            case "llama" -> spm(md, fn);
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

    /** llama.cpp's SPM defaults: BOS 1 added, EOS 2, UNK 0, a dummy space prefix, byte fallback when byte pieces exist. */
    private static Tokenizer spm(GgufMetadata md, String fn) {
        String[] pieces = md.strings(TOK_TOKENS);
        int n = pieces.length;
        float[] scores = md.has(TOK_SCORES) ? md.floats(TOK_SCORES) : null;
        int[] types = md.has(TOK_TYPES) ? md.ints(TOK_TYPES) : null;
        if (scores != null && scores.length != n || types != null && types.length != n) {
            throw new MogeException(fn + ": " + n + " tokens but " + (scores == null ? "-" : scores.length) + " scores and "
                    + (types == null ? "-" : types.length) + " token types");
        }
        boolean byteFallback = false;
        if (types != null) for (int t : types) byteFallback |= t == PieceType.BYTE;
        SpecialTokens special = new SpecialTokens(id(md, fn, TOK_BOS, n, 1), id(md, fn, TOK_EOS, n, 2), id(md, fn, TOK_PAD, n, -1),
                id(md, fn, TOK_UNK, n, 0), md.bool(TOK_ADD_BOS, true));
        return new SentencePieceTokenizer(pieces, scores, types, md.bool(TOK_ADD_SPACE_PREFIX, true), byteFallback, special);
    }

    private static int id(GgufMetadata md, String fn, String key, int n) {
        return id(md, fn, key, n, -1);
    }

    /** A token id key; an absent default that lies outside the vocabulary becomes -1. */
    private static int id(GgufMetadata md, String fn, String key, int n, int fallback) {
        if (!md.has(key)) return fallback < n ? fallback : -1;
        long v = md.integer(key);
        if (v < 0 || v >= n) throw new MogeException(fn + ": " + key + " " + v + " is outside the vocabulary of " + n + " tokens");
        return (int) v;
    }

    /** ChatML, llama.cpp's fallback when a file has no template. */
    /**
     * The chat template: {@code tokenizer.chat_template} when the file has one, else the built-in openPangu
     * format for a Pangu architecture whose vocabulary has openPangu's turn markers, and ChatML (llama.cpp's
     * default) for the others: without the markers as tokens the openPangu format would feed the model their
     * names spelt out in bytes.
     */
    public static ChatTemplate chatTemplate(GgufFile f, Tokenizer tok, Arch arch) {
        String bos = tok != null && tok.special().bos() >= 0 ? tok.piece(tok.special().bos()) : "";
        String eos = tok != null && tok.special().eos() >= 0 ? tok.piece(tok.special().eos()) : "";
        String src = f.metadata().string(CHAT_TEMPLATE, null);
        if (src != null) return ChatTemplate.of(f.describe() + " " + CHAT_TEMPLATE, src, bos, eos);
        boolean pangu = arch == Arch.PANGU_EMBEDDED || arch == Arch.PANGU_PRO_MOE;
        if (pangu && tok != null && tok.tokenId("[unused9]").isPresent() && tok.tokenId("[unused10]").isPresent()) {
            return ChatTemplate.openPangu();
        }
        return ChatTemplate.of("ChatML (no " + CHAT_TEMPLATE + " in " + f.describe() + ")", ChatTemplate.CHATML, bos, eos);
    }
}
