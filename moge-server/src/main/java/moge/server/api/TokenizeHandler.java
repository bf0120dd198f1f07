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
 * {@code add_special_tokens} is false, each server's default. {@code messages} (vLLM's chat form) is rendered as a
 * chat completion of the same body renders it ({@link CompletionHandler#chatPromptText}), and encoded as that
 * runs it unless {@code add_special_tokens} is false, so that the count is the completion's prompt_tokens. The
 * answers carry both servers' fields.
 */
public final class TokenizeHandler {
    private final Tokenizer tokenizer;
    private final int context;
    private final CompletionHandler chat;

    public TokenizeHandler(Tokenizer tokenizer, int context, CompletionHandler chat) {
        this.tokenizer = tokenizer;
        this.context = context;
        this.chat = chat;
    }

    public ObjectNode tokenize(ObjectNode body) {
        Fields f = new Fields(body);
        boolean llama = f.has("content");
        if (llama && f.has("prompt")) throw ApiException.invalid("prompt", "give 'content' (llama-server) or 'prompt' (vLLM), not both");
        if (f.has("messages") && (llama || f.has("prompt"))) {
            throw ApiException.invalid("messages", "give 'messages' or '" + (llama ? "content" : "prompt") + "', not both");
        }
        int[] ids;
        if (f.has("messages")) {
            // the prompt then ends with the final message, not a reply's opening: a different text to count
            if (f.bool("continue_final_message", false)) {
                throw ApiException.invalid("continue_final_message", "'continue_final_message' is not supported");
            }
            String text = chat.chatPromptText(body, f.bool("add_generation_prompt", true));
            ids = f.bool("add_special_tokens", true) ? tokenizer.encodePrompt(text) : tokenizer.encode(text);
        } else {
            String name = llama ? "content" : "prompt";
            String text = f.string(name, null);
            if (text == null) throw ApiException.invalid(name, "'content', 'prompt' or 'messages' is required");
            boolean special = llama ? f.bool("add_special", false) : f.bool("add_special_tokens", true);
            ids = special ? tokenizer.encodePrompt(text) : tokenizer.encode(text);
        }
        boolean pieces = f.bool("with_pieces", false);
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
