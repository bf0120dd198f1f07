package moge.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.generate.Step;
import moge.server.sched.SequenceResult;

import java.util.List;

/** The JSON shapes of OpenAI responses, chunks and errors (plus llama-server's "timings"). */
final class ResponseJson {
    static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final String FINGERPRINT = "moge-0.1.0";

    private ResponseJson() {
    }

    static ObjectNode error(ApiException e) {
        ObjectNode root = F.objectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type);
        if (e.param != null) err.put("param", e.param); else err.putNull("param");
        if (e.code != null) err.put("code", e.code); else err.putNull("code");
        return root;
    }

    static ObjectNode envelope(String id, String object, long created, String model) {
        ObjectNode o = F.objectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model);
        o.put("system_fingerprint", FINGERPRINT);
        return o;
    }

    /** Reasoning under DeepSeek/vLLM's name and the newer one (vLLM >= 0.10, OpenRouter); nothing when there is none. */
    static void reasoning(ObjectNode messageOrDelta, String reasoning) {
        if (reasoning.isEmpty()) return;
        messageOrDelta.put("reasoning_content", reasoning);
        messageOrDelta.put("reasoning", reasoning);
    }

    /**
     * A streamed chat delta. A delta of reasoning alone has no content, as llama-server's and vLLM's: an empty
     * string there reads as an answer that has begun. The finishing delta is empty, as OpenAI's.
     */
    static ObjectNode chatDelta(String reasoning, String content, boolean finishing) {
        ObjectNode d = F.objectNode();
        if (!content.isEmpty() || (!finishing && reasoning.isEmpty())) d.put("content", content);
        reasoning(d, reasoning);
        return d;
    }

    /** A message's tool_calls: [{id, type, function: {name, arguments}}]. */
    static ArrayNode toolCalls(List<ToolCallStream.ToolCall> calls) {
        ArrayNode arr = F.arrayNode();
        for (ToolCallStream.ToolCall c : calls) {
            ObjectNode o = arr.addObject();
            o.put("id", c.id());
            o.put("type", "function");
            o.putObject("function").put("name", c.name()).put("arguments", c.arguments());
        }
        return arr;
    }

    /** A streamed part of a call: its index, and id, type and name with empty arguments, or a piece of its arguments. */
    static ObjectNode toolCallDelta(ToolCallStream.Delta d) {
        ObjectNode o = F.objectNode();
        o.put("index", d.index());
        if (d.head()) {
            o.put("id", d.id());
            o.put("type", "function");
            o.putObject("function").put("name", d.name()).put("arguments", d.arguments());
        } else {
            o.putObject("function").put("arguments", d.arguments());
        }
        return o;
    }

    static ObjectNode usage(SequenceResult r) {
        ObjectNode u = F.objectNode();
        u.put("prompt_tokens", r.promptTokens());
        u.put("completion_tokens", r.completionTokens());
        u.put("total_tokens", r.promptTokens() + r.completionTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", r.cachedTokens());
        u.putObject("completion_tokens_details").put("reasoning_tokens", r.reasoningTokens());
        return u;
    }

    /** llama-server's timings: prompt_n counts the prompt tokens that ran (cached ones are cache_n). */
    static ObjectNode timings(SequenceResult r) {
        ObjectNode t = F.objectNode();
        int pn = r.promptProcessed(), gn = r.completionTokens();
        t.put("cache_n", r.cachedTokens());
        t.put("prompt_n", pn);
        t.put("prompt_ms", r.promptMs());
        t.put("prompt_per_token_ms", pn > 0 ? r.promptMs() / pn : 0);
        t.put("prompt_per_second", r.promptMs() > 0 ? pn * 1000.0 / r.promptMs() : 0);
        // rates are n over ms, as llama-server computes them (its generation time also starts at the first token),
        // so that a client dividing the fields it was given gets the same numbers
        t.put("predicted_n", gn);
        t.put("predicted_ms", r.predictedMs());
        t.put("predicted_per_token_ms", gn > 0 ? r.predictedMs() / gn : 0);
        t.put("predicted_per_second", r.predictedMs() > 0 ? gn * 1000.0 / r.predictedMs() : 0);
        t.put("queue_ms", r.queueMs());
        // as llama-server: present when speculative decoding proposed anything
        if (r.draftN() > 0) {
            t.put("draft_n", r.draftN());
            t.put("draft_n_accepted", r.draftAccepted());
        }
        return t;
    }

    /** Chat logprobs: {"content":[{"token","logprob","bytes","top_logprobs":[...]}], "refusal":null}. */
    static ObjectNode chatLogprobs(List<Step> steps, TokenText tt) {
        ObjectNode lp = F.objectNode();
        ArrayNode content = lp.putArray("content");
        for (Step s : steps) {
            ObjectNode e = entry(s.id(), s.logprob(), tt);
            ArrayNode top = e.putArray("top_logprobs");
            for (int i = 0; i < s.topIds().length; i++) top.add(entry(s.topIds()[i], s.topLogprobs()[i], tt));
            content.add(e);
        }
        lp.putNull("refusal");
        return lp;
    }

    private static ObjectNode entry(int id, double logprob, TokenText tt) {
        ObjectNode e = F.objectNode();
        e.put("token", tt.text(id));
        e.put("logprob", logprob);
        ArrayNode b = e.putArray("bytes");
        for (byte x : tt.bytes(id)) b.add(x & 0xFF);
        return e;
    }

    /**
     * Legacy completions logprobs: parallel arrays; {@code offset} is where the first token's text starts, and a
     * special token the text leaves out ({@code hideSpecial}) takes no room in it.
     */
    /**
     * A prompt's entries in completion logprobs' shape: every prompt token with its text and offset, the first one
     * with a null log-probability and null alternatives (nothing predicts it), the others from {@code steps}.
     */
    static ObjectNode promptLogprobs(int[] ids, List<Step> steps, TokenText tt, boolean hideSpecial) {
        ObjectNode lp = F.objectNode();
        ArrayNode tokens = lp.putArray("tokens"), lps = lp.putArray("token_logprobs"), offs = lp.putArray("text_offset");
        ArrayNode tops = lp.putArray("top_logprobs");
        int at = 0;
        for (int p = 0; p < ids.length; p++) {
            String t = tt.text(ids[p]);
            tokens.add(t);
            offs.add(at);
            at += hideSpecial && tt.hiddenInContinuation(ids[p]) ? 0 : t.length();
            if (p == 0) {
                lps.addNull();
                tops.addNull();
                continue;
            }
            Step s = steps.get(p - 1);
            lps.add(s.logprob());
            alternatives(tops.addObject(), s, tt);
        }
        return lp;
    }

    /** Appends the entries of completion logprobs {@code more} to {@code into}, array by array. */
    static void append(ObjectNode into, ObjectNode more) {
        for (String k : List.of("tokens", "token_logprobs", "text_offset", "top_logprobs")) ((ArrayNode) into.get(k)).addAll((ArrayNode) more.get(k));
    }

    static ObjectNode completionLogprobs(List<Step> steps, TokenText tt, int offset, boolean hideSpecial) {
        ObjectNode lp = F.objectNode();
        ArrayNode tokens = lp.putArray("tokens"), lps = lp.putArray("token_logprobs"), offs = lp.putArray("text_offset");
        ArrayNode tops = lp.putArray("top_logprobs");
        int at = offset;
        for (Step s : steps) {
            String t = tt.text(s.id());
            tokens.add(t);
            lps.add(s.logprob());
            offs.add(at);
            at += hideSpecial && tt.hiddenInContinuation(s.id()) ? 0 : t.length();
            alternatives(tops.addObject(), s, tt);
        }
        return lp;
    }

    /** A step's alternatives as completion logprobs' {text: logprob} map. */
    private static void alternatives(ObjectNode top, Step s, TokenText tt) {
        // tokens with the same text (two byte pieces shown as U+FFFD) share a key: keep the likelier
        for (int i = 0; i < s.topIds().length; i++) {
            String key = tt.text(s.topIds()[i]);
            if (!top.has(key)) top.put(key, s.topLogprobs()[i]);
        }
    }
}
