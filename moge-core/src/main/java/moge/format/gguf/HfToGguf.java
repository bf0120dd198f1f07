package moge.format.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import moge.MogeException;
import moge.format.DType;
import moge.format.HfCheckpoint;
import moge.format.HfConfig;
import moge.format.TensorData;
import moge.model.ModelConfig;
import moge.model.TensorNames;
import moge.tokenizer.PieceType;
import moge.tokenizer.SentencePieceModelFile;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import static moge.format.gguf.GgufNames.*;

/**
 * Converts a Hugging Face openPangu checkpoint to GGUF: {@code pangu-embedded} in llama.cpp's layout,
 * Pangu Pro MoE as moge's {@code pangu-pro-moe} (experts stacked per layer, router scale as
 * {@code ffn_gate_inp_scale}). The SentencePiece vocabulary goes in as llama.cpp's
 * {@code _set_vocab_sentencepiece} writes it, with the chat template and special ids. Tensors are streamed
 * a few rows at a time, so memory stays small whatever the model size.
 */
public final class HfToGguf {
    /** Receives bytes of tensor data written so far and the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long done, long total);
    }

    public record Result(ModelConfig config, int tensors, long tensorBytes) {
    }

    private static final int CHUNK_VALUES = 1 << 20;

    private HfToGguf() {
    }

    /** A file whose matrices are all {@code type} (apart from the head, see {@link GgufLayout#storageType}). */
    public static Result convert(Path dir, DType type, Path out, Progress progress) {
        return convert(dir, GgufFileType.of(type), out, progress);
    }

    public static Result convert(Path dir, GgufFileType type, Path out, Progress progress) {
        try (HfCheckpoint ck = HfCheckpoint.open(dir)) {
            ModelConfig c = HfConfig.read(ck.config(), dir.resolve("config.json"));
            checkSource(ck, c);
            GgufWriter w = new GgufWriter();
            Path name = dir.toAbsolutePath().normalize().getFileName();
            GgufLayout.metadata(c, name == null ? "model" : name.toString(), type, w);
            vocabulary(dir, ck.config(), c.vocabSize(), w);
            int n = 0;
            for (Map.Entry<String, long[]> e : GgufLayout.tensors(c).entrySet()) {
                String gguf = e.getKey();
                long[] shape = e.getValue();
                DType t = GgufLayout.storageType(c, gguf, shape, type);
                w.addTensor(gguf, t, shape, body(ck, c, gguf, shape, t));
                n++;
            }
            long total = w.tensorBytes();
            Path tmp = out.resolveSibling(out.getFileName() + ".part");
            try {
                w.write(tmp, progress == null ? null : done -> progress.update(done, total));
                Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException ex) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is the one to report
                }
                throw new MogeException(out + ": cannot write (" + ex.getMessage() + ")");
            }
            return new Result(c, n, total);
        }
    }

    /**
     * Every tensor the config implies, present with its shape and a float type, before anything is written.
     * Only the headers are looked at: building kernel views could repack (copy) the whole model.
     */
    private static void checkSource(HfCheckpoint ck, ModelConfig c) {
        for (Map.Entry<String, long[]> e : TensorNames.hf(c).entrySet()) {
            TensorData t = ck.require(e.getKey());
            long[] want = e.getValue();
            boolean ok = t.elements() == java.util.Arrays.stream(want).reduce(1, Math::multiplyExact)
                    && (t.rank() == want.length || want.length == 2 && want[0] == 1 && t.rank() == 1);
            if (ok && t.rank() == want.length) ok = java.util.Arrays.equals(t.shape(), want);
            if (!ok) {
                throw new MogeException(t.file() + ": tensor " + e.getKey() + " has shape " + t.shapeString() + ", expected "
                        + java.util.Arrays.toString(want));
            }
            if (t.type().quantized()) throw new MogeException(t.file() + ": tensor " + e.getKey() + " is " + t.type() + ", expected a float type");
        }
    }

    /** The HF tensors behind a GGUF tensor: one, or one per expert for the stacked expert tensors. */
    private static GgufWriter.Body body(HfCheckpoint ck, ModelConfig c, String gguf, long[] shape, DType t) {
        if (gguf.equals(TOKEN_EMBD)) return rows(t, ck.require("model.embed_tokens.weight"));
        if (gguf.equals(OUTPUT_NORM)) return rows(t, ck.require("model.norm.weight"));
        if (gguf.equals(OUTPUT)) return rows(t, ck.require("lm_head.weight"));
        int dot = gguf.indexOf('.', 4);
        int layer = Integer.parseInt(gguf.substring(4, dot));
        String tensor = gguf.substring(dot + 1);
        String p = "model.layers." + layer + ".";
        String[] experts = switch (tensor) {
            case FFN_GATE_EXPS -> new String[]{"mlp.experts.", ".gate_proj.weight"};
            case FFN_UP_EXPS -> new String[]{"mlp.experts.", ".up_proj.weight"};
            case FFN_DOWN_EXPS -> new String[]{"mlp.experts.", ".down_proj.weight"};
            default -> null;
        };
        if (experts != null) {
            TensorData[] src = new TensorData[c.numExperts()];
            for (int e = 0; e < src.length; e++) src[e] = ck.require(p + experts[0] + e + experts[1]);
            return rows(t, src);
        }
        String hf = switch (tensor) {
            case ATTN_NORM -> "input_layernorm.weight";
            case FFN_NORM -> "post_attention_layernorm.weight";
            case ATTN_Q -> "self_attn.q_proj.weight";
            case ATTN_K -> "self_attn.k_proj.weight";
            case ATTN_V -> "self_attn.v_proj.weight";
            case ATTN_OUT -> "self_attn.o_proj.weight";
            case ATTN_Q_BIAS -> "self_attn.q_proj.bias";
            case ATTN_K_BIAS -> "self_attn.k_proj.bias";
            case ATTN_V_BIAS -> "self_attn.v_proj.bias";
            case ATTN_OUT_BIAS -> "self_attn.o_proj.bias";
            case FFN_GATE -> "mlp.gate_proj.weight";
            case FFN_UP -> "mlp.up_proj.weight";
            case FFN_DOWN -> "mlp.down_proj.weight";
            case FFN_GATE_INP -> "mlp.gate.weight";
            case FFN_GATE_INP_SCALE -> "mlp.router_scale";
            case FFN_GATE_SHEXP -> "mlp.shared_expert.gate_proj.weight";
            case FFN_UP_SHEXP -> "mlp.shared_expert.up_proj.weight";
            case FFN_DOWN_SHEXP -> "mlp.shared_expert.down_proj.weight";
            default -> throw new IllegalStateException("no Hugging Face source for " + gguf);
        };
        return rows(t, ck.require(p + hf));
    }

    /** Streams the sources one after another as {@code t}, a whole number of rows (blocks) per chunk. */
    private static GgufWriter.Body rows(DType t, TensorData... sources) {
        return out -> {
            for (TensorData s : sources) copy(s, t, out);
        };
    }

    private static void copy(TensorData s, DType t, OutputStream out) throws IOException {
        long n = s.elements();
        long cols = Math.max(1, s.cols());
        long perChunk = Math.max(cols, CHUNK_VALUES / cols * cols);
        float[] buf = new float[(int) Math.min(n, perChunk)];
        long inBytesPerValue = s.type().bytesFor(1);
        for (long at = 0; at < n; at += perChunk) {
            int m = (int) Math.min(perChunk, n - at);
            GgmlQuantizer.decode(s.type(), s.data(), at * inBytesPerValue, buf, 0, m);
            out.write(GgmlQuantizer.encode(t, buf, 0, m));
        }
    }

    /**
     * tokenizer.model as llama.cpp's {@code _create_vocab_sentencepiece}: every id below vocab_size starts as
     * "[PAD{id}]" (UNUSED, score -10000); SentencePiece pieces fill in with their score and type (its
     * user-defined pieces count as NORMAL there); tokenizer_config.json's added tokens override as CONTROL
     * (special) or USER_DEFINED with score -1000. Special ids come from config.json, the BOS/EOS policy, the
     * space prefix and the chat template from tokenizer_config.json.
     */
    static void vocabulary(Path dir, JsonNode config, int vocabSize, GgufWriter w) {
        Path modelFile = dir.resolve("tokenizer.model");
        if (!Files.isRegularFile(modelFile)) return;
        SentencePieceModelFile sp = SentencePieceModelFile.read(modelFile);
        String[] tokens = new String[vocabSize];
        float[] scores = new float[vocabSize];
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            tokens[i] = "[PAD" + i + "]";
            scores[i] = -10000f;
            types[i] = PieceType.UNUSED;
        }
        for (int i = 0; i < Math.min(vocabSize, sp.pieces().length); i++) {
            tokens[i] = sp.pieces()[i];
            scores[i] = sp.scores()[i];
            int t = sp.types()[i];
            types[i] = t == PieceType.UNKNOWN || t == PieceType.CONTROL || t == PieceType.UNUSED || t == PieceType.BYTE ? t : PieceType.NORMAL;
        }
        Path tcFile = dir.resolve("tokenizer_config.json");
        JsonNode tc = Files.isRegularFile(tcFile) ? HfCheckpoint.readJson(tcFile) : null;
        JsonNode added = tc == null ? null : tc.get("added_tokens_decoder");
        if (added != null && added.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = added.fields(); it.hasNext(); ) {
                var e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new MogeException(tcFile + ": added_tokens_decoder key '" + e.getKey() + "' is not a token id");
                }
                String content = e.getValue().path("content").asText(null);
                if (id < 0 || id >= vocabSize || content == null) continue;
                boolean special = e.getValue().path("special").asBoolean(false) || looksSpecial(content);
                types[id] = special ? PieceType.CONTROL : PieceType.USER_DEFINED;
                tokens[id] = special ? content : content.replace('\u2581', ' ');
                scores[id] = -1000f;
            }
        }
        w.putString(TOK_MODEL, "llama");
        w.putString(TOK_PRE, "default");
        w.putStrings(TOK_TOKENS, tokens);
        w.putF32s(TOK_SCORES, scores);
        w.putI32s(TOK_TYPES, types);
        if (tc != null && tc.has("add_prefix_space")) w.putBool(TOK_ADD_SPACE_PREFIX, tc.get("add_prefix_space").asBoolean());
        for (String[] k : new String[][]{{"bos_token_id", TOK_BOS}, {"eos_token_id", TOK_EOS}, {"unk_token_id", TOK_UNK}, {"pad_token_id", TOK_PAD}}) {
            JsonNode v = config.get(k[0]);
            if (v != null && v.isArray() && !v.isEmpty()) v = v.get(0);
            if (v != null && v.canConvertToInt() && v.asInt() >= 0 && v.asInt() < vocabSize) w.putU32(k[1], v.asInt());
        }
        if (tc != null && tc.has("add_bos_token")) w.putBool(TOK_ADD_BOS, tc.get("add_bos_token").asBoolean());
        if (tc != null && tc.has("add_eos_token")) w.putBool(TOK_ADD_EOS, tc.get("add_eos_token").asBoolean());
        if (tc != null && tc.path("chat_template").isTextual()) w.putString(CHAT_TEMPLATE, tc.get("chat_template").asText());
    }

    /** llama.cpp's {@code does_token_look_special}. */
    private static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<\uFF5C") && t.endsWith("\uFF5C>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }
}
