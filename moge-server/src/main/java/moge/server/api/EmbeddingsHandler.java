package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.generate.Embedder;
import moge.model.LoadedModel;
import moge.tokenizer.Tokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * POST /v1/embeddings, as OpenAI, llama-server and vLLM answer it: each input's final hidden states pooled
 * ({@link Embedder}) into a unit vector, as floats or base64 of little-endian float32 ({@code encoding_format});
 * {@code dimensions} keeps the first N values and scales them to unit length again (Matryoshka models). Pooling
 * comes from {@code --pooling}, else the GGUF's {@code ARCH.pooling_type}, else the last token; when the GGUF says
 * {@code tokenizer.ggml.add_eos_token}, an end token closes each input, as the model was trained.
 * <p>
 * The vectors come from the {@link SideModel}, so embeddings never wait for the scheduler (they share its cores);
 * requests are embedded one after another.
 */
public final class EmbeddingsHandler {
    /** Inputs per request at most, OpenAI's limit. */
    static final int MAX_INPUTS = 2048;
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final LoadedModel lm;
    private final SideModel side;
    private final String modelId;
    private final int context;
    private final Embedder.Setup setup;

    /** @param pooling from --pooling, or null to take the GGUF's or the last token */
    public EmbeddingsHandler(LoadedModel lm, SideModel side, String modelId, Embedder.Pooling pooling) {
        this.lm = lm;
        this.side = side;
        this.modelId = modelId;
        this.context = side.context();
        this.setup = Embedder.Setup.of(lm, pooling);
    }

    public Embedder.Pooling pooling() {
        return setup.pooling();
    }

    public ObjectNode handle(ObjectNode body) {
        Fields f = new Fields(body);
        String model = f.string("model", null);
        if (model != null && !model.isEmpty() && !model.equals(modelId)) throw ApiException.modelNotFound(model);
        List<int[]> inputs = inputs(f.node("input"), lm.tokenizer);
        String format = f.string("encoding_format", "float");
        if (!format.equals("float") && !format.equals("base64")) {
            throw ApiException.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\", got '" + format + "'");
        }
        int hidden = lm.config.hidden();
        int dims = (int) f.integer("dimensions", hidden, 1, hidden);
        ObjectNode o = F.objectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        long tokens = 0;
        for (int i = 0; i < inputs.size(); i++) {
            int[] ids = inputs.get(i);
            if (ids.length > context) {
                throw ApiException.contextExceeded("input", "input " + i + " is " + ids.length + " tokens long, but the context is "
                        + context + " tokens");
            }
            tokens += ids.length;
        }
        List<float[]> vectors = side.call("input", (m, cache) -> {
            Embedder e = new Embedder(m, cache, context, setup.pooling());
            List<float[]> out = new ArrayList<>(inputs.size());
            for (int[] ids : inputs) out.add(e.embed(ids));
            return out;
        });
        for (int i = 0; i < vectors.size(); i++) {
            float[] v = Embedder.truncated(vectors.get(i), dims);
            ObjectNode d = data.addObject().put("object", "embedding").put("index", i);
            if (format.equals("base64")) {
                ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) b.putFloat(x);
                d.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                ArrayNode a = d.putArray("embedding");
                for (float x : v) a.add(x);
            }
        }
        o.put("model", modelId);
        o.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return o;
    }

    /** A string, an array of strings, an array of token ids, or an array of such arrays; each tokenized as a prompt. */
    private List<int[]> inputs(JsonNode in, Tokenizer tok) {
        if (in == null) throw ApiException.invalid("input", "'input' is required");
        List<int[]> out = new ArrayList<>();
        if (in.isTextual()) {
            out.add(text(in.textValue(), "input", tok));
            return out;
        }
        if (!in.isArray() || in.isEmpty()) {
            throw ApiException.invalid("input", "'input' must be a string, an array of strings, or token ids (an array, or arrays of them)");
        }
        if (in.size() > MAX_INPUTS) throw ApiException.invalid("input", "'input' may hold at most " + MAX_INPUTS + " items, got " + in.size());
        if (in.get(0).isNumber()) {
            out.add(ids(in, "input"));
            return out;
        }
        for (int i = 0; i < in.size(); i++) {
            JsonNode e = in.get(i);
            String at = "input[" + i + "]";
            if (e.isTextual()) out.add(text(e.textValue(), at, tok));
            else if (e.isArray()) out.add(ids(e, at));
            else throw ApiException.invalid(at, "'" + at + "' must be a string or an array of token ids");
        }
        return out;
    }

    private int[] text(String s, String at, Tokenizer tok) {
        if (s.isEmpty()) throw ApiException.invalid(at, "'" + at + "' must not be empty");
        return setup.tokens(tok, s);
    }

    private int[] ids(JsonNode arr, String at) {
        if (arr.isEmpty()) throw ApiException.invalid(at, "'" + at + "' must not be empty");
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode n = arr.get(i);
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0 || n.intValue() >= lm.config.vocabSize()) {
                throw ApiException.invalid(at, "'" + at + "' token ids must be integers in 0.." + (lm.config.vocabSize() - 1) + "; element "
                        + i + " is " + n);
            }
            ids[i] = n.intValue();
        }
        return ids;
    }

}
