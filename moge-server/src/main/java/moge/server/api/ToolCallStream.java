package moge.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the tool calls in one choice's answer text (the content, after any reasoning), fed the text as it streams.
 * With tool_choice "auto" the text passes through until a call marker; what follows up to the closing marker (or
 * the end) is a block of calls, a JSON array of {"name", "arguments"} objects or one such object, released as calls
 * once whole (when the markers are single tokens and the tools' schemas enforceable, decoding enforces the block:
 * {@link ResponseFormat#autoCalls}). A block that is not such JSON, or names an undeclared function, is released as text, markers and
 * all, rather than lost. With a forced choice the whole answer is the calls' JSON (constrained decoding makes it
 * so; the markers around it are accepted too). Without parallel calls only the first call is kept.
 */
final class ToolCallStream {
    /** An OpenAI tool call: the arguments as compact JSON text. */
    record ToolCall(String id, String name, String arguments) {
    }

    /** What became final: text for the content and whole calls. */
    record Out(String content, List<ToolCall> calls) {
        static final Out EMPTY = new Out("", List.of());
    }

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final ToolSpec spec;
    private final String open, close;
    /** Text not yet released: a possible marker's start, or a block of calls still open. */
    private final StringBuilder held = new StringBuilder();

    ToolCallStream(ToolSpec spec, String open, String close) {
        this.spec = spec;
        this.open = open;
        this.close = close;
    }

    /** Whether {@link #held} is inside a block; how many calls were released. */
    private boolean inCall;
    private int calls;

    /** The whole answer at once (tests, and what a stream comes to). */
    static Out parse(ToolSpec spec, String open, String close, String text) {
        ToolCallStream s = new ToolCallStream(spec, open, close);
        Out a = s.push(text), b = s.finish();
        List<ToolCall> all = new ArrayList<>(a.calls());
        all.addAll(b.calls());
        return new Out(a.content() + b.content(), all);
    }

    Out push(String text) {
        held.append(text);
        if (spec.forced()) return Out.EMPTY; // the whole answer is one block, judged at the end
        StringBuilder content = new StringBuilder();
        List<ToolCall> found = new ArrayList<>();
        while (true) {
            if (!inCall) {
                int at = held.indexOf(open);
                if (at < 0) {
                    // keep back a tail that may be the start of a marker
                    int keep = partialMarker(held, open);
                    content.append(held, 0, held.length() - keep);
                    held.delete(0, held.length() - keep);
                    break;
                }
                content.append(held, 0, at);
                held.delete(0, at + open.length());
                inCall = true;
            } else {
                int at = held.indexOf(close);
                if (at < 0) break;
                String block = held.substring(0, at);
                held.delete(0, at + close.length());
                inCall = false;
                block(block, content, found);
            }
        }
        return new Out(content.toString(), found);
    }

    /** The rest at the end of the answer: an unclosed block is judged as it stands. */
    Out finish() {
        StringBuilder content = new StringBuilder();
        List<ToolCall> found = new ArrayList<>();
        String rest = held.toString();
        held.setLength(0);
        if (spec.forced()) {
            String s = rest.strip();
            if (s.startsWith(open)) s = s.substring(open.length());
            if (s.endsWith(close)) s = s.substring(0, s.length() - close.length());
            List<ToolCall> c = calls(s);
            if (c == null) content.append(rest);
            else take(c, found);
        } else if (inCall) {
            inCall = false;
            if (rest.isBlank()) content.append(open);
            else block(rest, content, found);
        } else {
            content.append(rest);
        }
        return new Out(content.toString(), found);
    }

    private void block(String block, StringBuilder content, List<ToolCall> found) {
        List<ToolCall> c = calls(block);
        if (c == null) content.append(open).append(block).append(close);
        else take(c, found);
    }

    private void take(List<ToolCall> c, List<ToolCall> found) {
        for (ToolCall t : c) {
            if (!spec.parallel() && calls > 0) return;
            found.add(t);
            calls++;
        }
    }

    /** The calls of a block, or null when it is not a call array or object naming declared functions. */
    private List<ToolCall> calls(String block) {
        JsonNode n;
        try {
            n = RequestParser.JSON.readTree(block.strip());
        } catch (JsonProcessingException e) {
            return null;
        }
        if (n == null) return null;
        List<JsonNode> items = new ArrayList<>();
        if (n.isArray()) n.forEach(items::add);
        else items.add(n);
        if (items.isEmpty()) return null;
        List<ToolCall> out = new ArrayList<>();
        for (JsonNode c : items) {
            if (!c.isObject()) return null;
            JsonNode name = c.get("name");
            if (name == null || !name.isTextual() || spec.function(name.textValue()) == null) return null;
            JsonNode args = c.has("arguments") ? c.get("arguments") : c.get("parameters");
            if (args != null && args.isTextual()) {
                try {
                    args = RequestParser.JSON.readTree(args.textValue());
                } catch (JsonProcessingException e) {
                    return null;
                }
            }
            if (args == null || args.isNull()) args = RequestParser.JSON.createObjectNode();
            if (!args.isObject()) return null;
            out.add(new ToolCall(newId(), name.textValue(), args.toString()));
        }
        return out;
    }

    /** The length of the longest tail of {@code s} that is a proper prefix of {@code marker}. */
    static int partialMarker(CharSequence s, String marker) {
        for (int k = Math.min(marker.length() - 1, s.length()); k > 0; k--) {
            boolean match = true;
            for (int i = 0; i < k && match; i++) match = s.charAt(s.length() - k + i) == marker.charAt(i);
            if (match) return k;
        }
        return 0;
    }

    /** An id as OpenAI's look: "call_" and 24 letters or digits. */
    static String newId() {
        StringBuilder sb = new StringBuilder("call_");
        for (int i = 0; i < 24; i++) sb.append(ID_CHARS.charAt(RANDOM.nextInt(ID_CHARS.length())));
        return sb.toString();
    }
}
