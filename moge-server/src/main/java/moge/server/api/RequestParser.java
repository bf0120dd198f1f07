package moge.server.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.sample.SamplerParams;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the JSON of completion requests into {@link CompletionRequest}s. Unknown fields are ignored (clients
 * send many); known ones of the wrong type or range are rejected with a 400 naming the field.
 */
public final class RequestParser {
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool", "function");
    private static final int MAX_STOP = 16, MAX_STOP_IDS = 64;
    private static final int MAX_TOP_LOGPROBS = 20;
    /** Choices per request at most; the server's --parallel may allow fewer ({@link CompletionHandler}). */
    static final int MAX_N = 128;

    private RequestParser() {
    }

    /** The body as a JSON object, or a 400. */
    public static ObjectNode parseObject(byte[] body) {
        if (body.length == 0) throw ApiException.badJson("Request body is empty; expected a JSON object");
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw ApiException.badJson("malformed JSON" + (at != null && at.getLineNr() > 0 ? " at line " + at.getLineNr() + ", column "
                    + at.getColumnNr() : "") + ": " + problem(e));
        } catch (java.io.IOException e) {
            throw ApiException.badJson("Unreadable request body");
        }
        if (n == null || !n.isObject()) throw ApiException.badJson("Request body must be a JSON object");
        return (ObjectNode) n;
    }

    /**
     * What is wrong, in the client's terms: Jackson's messages name its own classes, features and source
     * descriptions, which mean nothing to an API user.
     */
    static String problem(JsonProcessingException e) {
        if (e instanceof JsonEOFException) return "unexpected end of input";
        if (e instanceof StreamConstraintsException) {
            String m = String.valueOf(e.getOriginalMessage());
            return m.contains("nesting depth") ? "nested too deeply (64 levels at most)" : "a number, string or name is too long";
        }
        if (e instanceof MismatchedInputException) return "unexpected text after the JSON value";
        String m = e.getOriginalMessage();
        if (m == null || m.isBlank()) return "parse error";
        m = m.lines().findFirst().orElse(m);
        // the parser's own context comes last: "(start marker at [Source: ...])", "(for Array starting at ...)"
        for (String tail : new String[]{" (start marker at", " (for ", " at [Source"}) {
            int cut = m.indexOf(tail);
            if (cut >= 0) m = m.substring(0, cut);
        }
        return Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }

    public static CompletionRequest chat(ObjectNode body) {
        Fields f = new Fields(body);
        List<ChatMessage> messages = messages(f);
        int top = -1;
        boolean logprobs = f.bool("logprobs", false);
        if (f.has("top_logprobs")) {
            int k = (int) f.integer("top_logprobs", 0, 0, MAX_TOP_LOGPROBS);
            if (!logprobs) throw ApiException.invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
            top = k;
        } else if (logprobs) {
            top = 0;
        }
        Map<String, Object> kwargs = new LinkedHashMap<>();
        ObjectNode k = f.object("chat_template_kwargs");
        if (k != null) {
            Map<?, ?> m = JSON.convertValue(k, Map.class);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                String name = String.valueOf(e.getKey());
                if (name.equals("messages") || name.equals("add_generation_prompt")) {
                    throw ApiException.invalid("chat_template_kwargs", "'chat_template_kwargs' may not set '" + name + "'");
                }
                kwargs.put(name, e.getValue());
            }
        }
        return common(f, true, messages, null, null, top, kwargs, false);
    }

    public static CompletionRequest completion(ObjectNode body) {
        Fields f = new Fields(body);
        JsonNode p = f.node("prompt");
        if (p == null) throw ApiException.invalid("prompt", "'prompt' is required");
        String text = null;
        int[] ids = null;
        if (p.isTextual()) {
            text = p.textValue();
        } else if (p.isArray()) {
            if (p.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be an empty array");
            JsonNode first = p.get(0);
            if (first.isTextual() || first.isArray()) {
                if (p.size() > 1) {
                    throw ApiException.invalid("prompt", "'prompt' with several prompts is not supported; send one prompt per request");
                }
                if (first.isTextual()) text = first.textValue();
                else ids = tokenIds(first);
            } else {
                ids = tokenIds(p);
            }
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string, an array of token ids, or an array with one of either");
        }
        if (text != null && text.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be empty");
        boolean echo = f.bool("echo", false);
        if (f.has("suffix")) throw ApiException.invalid("suffix", "'suffix' is not supported");
        // best_of = n asks for no ranking (vLLM reads it so); more would need choices generated but never returned
        long bestOf = f.integer("best_of", 1, 1, Integer.MAX_VALUE);
        if (bestOf != 1 && bestOf != f.integer("n", 1, 1, MAX_N)) {
            throw ApiException.invalid("best_of", "'best_of' is not supported (only 1, or equal to 'n'); ask for n choices and rank them yourself");
        }
        int top = f.has("logprobs") ? (int) f.integer("logprobs", 0, 0, MAX_TOP_LOGPROBS) : -1;
        return common(f, false, null, text, ids, top, Map.of(), echo);
    }

    private static int[] tokenIds(JsonNode arr) {
        if (arr.isEmpty()) throw ApiException.invalid("prompt", "'prompt' must not be an empty array");
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = arr.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0) {
                throw ApiException.invalid("prompt", "'prompt' token ids must be non-negative integers; element " + i + " is " + e);
            }
            ids[i] = e.intValue();
        }
        return ids;
    }

    private static List<ChatMessage> messages(Fields f) {
        JsonNode arr = f.node("messages");
        if (arr == null) throw ApiException.invalid("messages", "'messages' is required");
        if (!arr.isArray()) throw ApiException.invalid("messages", "'messages' must be an array");
        if (arr.isEmpty()) throw ApiException.invalid("messages", "'messages' must contain at least one message");
        List<ChatMessage> out = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            String at = "messages[" + i + "]";
            JsonNode m = arr.get(i);
            if (!m.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw ApiException.invalid(at + ".role", "'" + at + ".role' must be a string");
            String r = role.textValue();
            if (!ROLES.contains(r)) {
                throw ApiException.invalid(at + ".role", "'" + at + ".role' must be one of system, developer, user, assistant, tool; got '" + r + "'");
            }
            if (r.equals("developer")) r = "system";
            JsonNode c = m.get("content");
            // an assistant turn that only called tools may have none, as in OpenAI's API; what the user or system says may not
            if ((c == null || c.isNull()) && (r.equals("user") || r.equals("system"))) {
                throw ApiException.invalid(at + ".content", "'" + at + ".content' is required in a " + role.textValue() + " message");
            }
            out.add(new ChatMessage(r, content(c, at + ".content"), ToolMessages.fields(m, r, at)));
        }
        return out;
    }

    /** A string, null (e.g. an assistant turn that only called tools) or an array of text parts. */
    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw ApiException.invalid(at, "'" + at + "' must be a string or an array of content parts");
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
            JsonNode part = c.get(j);
            String pat = at + "[" + j + "]";
            if (!part.isObject()) throw ApiException.invalid(pat, "'" + pat + "' must be an object");
            String type = part.path("type").asText("");
            if (!type.equals("text")) throw ApiException.invalid(pat + ".type", "'" + pat + ".type' '" + type + "' is not supported (only text)");
            JsonNode t = part.get("text");
            if (t == null || !t.isTextual()) throw ApiException.invalid(pat + ".text", "'" + pat + ".text' must be a string");
            if (!sb.isEmpty()) sb.append('\n');
            sb.append(t.textValue());
        }
        return sb.toString();
    }

    /**
     * A {@code logit_bias} as parsed: the ids it names, and the texts it names (llama-server's array form), which
     * only the tokenizer can turn into ids ({@link #resolve}).
     */
    record LogitBias(Map<Integer, Float> ids, List<TextBias> texts) {
        static final LogitBias NONE = new LogitBias(Map.of(), List.of());
    }

    /** Element {@code element} of the array: every token of {@code text} gets {@code bias}. */
    record TextBias(int element, String text, float bias) {
    }

    /**
     * OpenAI's {@code logit_bias}, an object from token ids (strings) to biases ({"15043": -100}), or
     * llama-server's array of pairs ([[15043, -100.0], [15044, false]], and [["Hello", 1.5]]: a text, whose every
     * token gets the bias); false bans the token, as there. The ids are checked against the vocabulary where the
     * model is known ({@link CompletionHandler}).
     */
    static LogitBias logitBias(Fields f) {
        JsonNode n = f.node("logit_bias");
        if (n == null) return LogitBias.NONE;
        Map<Integer, Float> out = new HashMap<>();
        List<TextBias> texts = new ArrayList<>();
        if (n.isObject()) {
            for (Map.Entry<String, JsonNode> e : n.properties()) {
                String key = e.getKey();
                // digits only: no sign, spaces or exponent, which parseInt or a float parse would let through
                if (!key.matches("[0-9]{1,10}") || Long.parseLong(key) > Integer.MAX_VALUE) {
                    throw ApiException.invalid("logit_bias", "'logit_bias' keys must be token ids (non-negative integers), got '" + key
                            + "' (token text is taken in the array form, [[\"text\", bias]])");
                }
                out.put(Integer.parseInt(key), bias(key, e.getValue()));
            }
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                JsonNode pair = n.get(i), id = pair.path(0);
                if (pair.isArray() && pair.size() == 2 && id.isTextual() && !id.textValue().isEmpty()) {
                    texts.add(new TextBias(i, id.textValue(), bias("\"" + id.textValue() + "\"", pair.get(1))));
                    continue;
                }
                if (!pair.isArray() || pair.size() != 2 || !id.isIntegralNumber() || !id.canConvertToInt() || id.intValue() < 0) {
                    throw ApiException.invalid("logit_bias", "'logit_bias' as an array takes [token id, bias] or [text, bias] pairs "
                            + "(ids non-negative integers, texts not empty); element " + i + " is " + pair);
                }
                if (out.put(id.intValue(), bias(Integer.toString(id.intValue()), pair.get(1))) != null) {
                    throw ApiException.invalid("logit_bias", "'logit_bias' names token " + id.intValue() + " twice");
                }
            }
        } else {
            throw ApiException.invalid("logit_bias", "'logit_bias' must be an object mapping token ids to biases, e.g. {\"15043\": -100}");
        }
        return new LogitBias(out, List.copyOf(texts));
    }

    /**
     * The ids of a parsed bias with its texts' tokens added, as llama-server tokenizes them (no BOS). A token that
     * two elements name is a 400 as in the id form (llama-server would add the biases up, which nobody means);
     * a token a text has twice gets its bias once.
     */
    static Map<Integer, Float> resolve(LogitBias b, java.util.function.Function<String, int[]> encode) {
        if (b.texts().isEmpty()) return b.ids();
        Map<Integer, Float> out = new HashMap<>(b.ids());
        Map<Integer, Integer> byText = new HashMap<>();
        for (TextBias t : b.texts()) {
            int[] ids = encode.apply(t.text());
            if (ids.length == 0) throw ApiException.invalid("logit_bias", "'logit_bias' text \"" + t.text() + "\" has no tokens");
            for (int id : ids) {
                Integer other = byText.putIfAbsent(id, t.element());
                if (other != null && other == t.element()) continue;
                if (other != null || out.containsKey(id)) {
                    throw ApiException.invalid("logit_bias", "'logit_bias' names token " + id + " twice (element " + t.element()
                            + ", \"" + t.text() + "\", has it too)");
                }
                out.put(id, t.bias());
            }
        }
        return out;
    }

    private static float bias(String token, JsonNode v) {
        if (v.isBoolean() && !v.booleanValue()) return SamplerParams.BAN;
        if (!v.isNumber() || !(v.doubleValue() >= SamplerParams.BAN && v.doubleValue() <= 100)) {
            throw ApiException.invalid("logit_bias", "'logit_bias' of token " + token + " must be a number between -100 and 100 "
                    + "(or false to ban it), got " + v);
        }
        return v.floatValue();
    }

    private static CompletionRequest common(Fields f, boolean chat, List<ChatMessage> messages, String text, int[] ids, int top,
                                            Map<String, Object> kwargs, boolean echo) {
        String model = f.string("model", null);
        Integer maxTokens = null;
        // with echo, 0 asks for the prompt's log-probabilities alone (lm-evaluation-harness's loglikelihood requests)
        int least = echo ? 0 : 1;
        if (f.has("max_completion_tokens")) maxTokens = (int) f.integer("max_completion_tokens", 0, least, Integer.MAX_VALUE);
        else if (f.has("max_tokens")) maxTokens = (int) f.integer("max_tokens", 0, least, Integer.MAX_VALUE);
        int n = (int) f.integer("n", 1, 1, MAX_N);
        float temperature = (float) f.number("temperature", 1.0, 0, 2);
        float topP = (float) f.number("top_p", 1.0, 0, 1);
        int topK = (int) f.integer("top_k", 0, -1, Integer.MAX_VALUE);
        if (topK < 0) topK = 0;
        float minP = (float) f.number("min_p", 0, 0, 1);
        float presence = (float) f.number("presence_penalty", 0, -2, 2);
        float frequency = (float) f.number("frequency_penalty", 0, -2, 2);
        String repName = f.has("repetition_penalty") ? "repetition_penalty" : "repeat_penalty";
        float repeat = (float) f.number(repName, 1, 0.01, 10);
        int lastN = (int) f.integer("repeat_last_n", 64, 0, 1 << 20);
        long seed = f.integer("seed", -1, Long.MIN_VALUE, Long.MAX_VALUE);
        if (seed < 0) seed = -1;
        LogitBias bias = logitBias(f);
        SamplerParams sp = new SamplerParams(temperature, topK, topP, minP, repeat, lastN, presence, frequency, seed, bias.ids());
        List<String> stop = f.strings("stop", MAX_STOP);
        boolean stream = f.bool("stream", false);
        boolean includeUsage = false;
        ObjectNode so = f.object("stream_options");
        if (so != null) {
            JsonNode iu = so.get("include_usage");
            if (iu != null && !iu.isNull() && !iu.isBoolean()) {
                throw ApiException.invalid("stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
            }
            includeUsage = iu != null && iu.asBoolean(false);
        }
        boolean ignoreEos = f.bool("ignore_eos", false);
        boolean speculative = f.bool("speculative", true);
        // vLLM's name; a chat reply always hides them (the think markers become the reasoning split)
        boolean skipSpecial = f.bool("skip_special_tokens", true);
        String user = f.string("user", null);
        int minTokens = (int) f.integer("min_tokens", 0, 0, Integer.MAX_VALUE);
        if (maxTokens != null && minTokens > maxTokens) {
            throw ApiException.invalid("min_tokens", "'min_tokens' (" + minTokens + ") must not exceed the maximum of " + maxTokens + " tokens");
        }
        int[] stopTokenIds = f.ids("stop_token_ids", MAX_STOP_IDS);
        return new CompletionRequest(chat, f.body(), model, messages, text, ids, maxTokens, sp, stop, top, stream, includeUsage,
                ignoreEos, speculative, skipSpecial, user, kwargs, n, bias.texts(), minTokens, stopTokenIds, echo);
    }
}
