package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.tokenizer.Tokenizer;

/**
 * POST /tokenize and /detokenize, with both llama-server's and vLLM's request shapes, so that a client counts
 * tokens or checks a prompt with the model's own tokenizer. {@code content} (llama-server) is encoded as is
 * unless {@code add_special} is true; {@code prompt} (vLLM) gets the tokenizer's BOS unless
 * {@code add_special_tokens} is false, each server's default. The answers carry both servers' fields.
 */
public final class TokenizeHandler {
    private final Tokenizer tokenizer;
    private final int context;

    public TokenizeHandler(Tokenizer tokenizer, int context) {
        this.tokenizer = tokenizer;
        this.context = context;
    }

    public ObjectNode tokenize(ObjectNode body) {
        Fields f = new Fields(body);
        boolean llama = f.has("content");
        if (llama && f.has("prompt")) throw ApiException.invalid("prompt", "give 'content' (llama-server) or 'prompt' (vLLM), not both");
        String name = llama ? "content" : "prompt";
        String text = f.string(name, null);
        if (text == null) {
            String other = f.has("messages") ? " ('messages' is not supported: tokenize the rendered prompt)" : "";
            throw ApiException.invalid(name, "'content' or 'prompt' is required" + other);
        }
        boolean special = llama ? f.bool("add_special", false) : f.bool("add_special_tokens", true);
        boolean pieces = f.bool("with_pieces", false);
        int[] ids = special ? tokenizer.encodePrompt(text) : tokenizer.encode(text);
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ArrayNode tokens = o.putArray("tokens");
        for (int id : ids) {
            if (pieces) tokens.addObject().put("id", id).put("piece", tokenizer.piece(id));
            else tokens.add(id);
        }
        o.put("count", ids.length);
        o.put("max_model_len", context);
        return o;
    }

    public ObjectNode detokenize(ObjectNode body) {
        JsonNode t = new Fields(body).node("tokens");
        if (t == null) throw ApiException.invalid("tokens", "'tokens' is required");
        if (!t.isArray()) throw ApiException.invalid("tokens", "'tokens' must be an array of token ids");
        int[] ids = new int[t.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = t.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0 || e.intValue() >= tokenizer.vocabSize()) {
                throw ApiException.invalid("tokens", "'tokens' must be ids in [0, " + tokenizer.vocabSize() + "); element " + i + " is " + e);
            }
            ids[i] = e.intValue();
        }
        String text = tokenizer.decode(ids);
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("content", text);
        o.put("prompt", text);
        return o;
    }
}
