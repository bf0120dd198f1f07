package moge.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the tool calls in one choice's answer text (the content, after any reasoning), fed the text as it streams.
 * With tool_choice "auto" the text passes through until a call marker; what follows up to the closing marker (or
 * the end) is a block of calls, a JSON array of {"name", "arguments"} objects or one such object. A block that is
 * not such JSON, or names an undeclared function, is released as text, markers and all, rather than lost. With a
 * forced choice the whole answer is the calls' JSON (the markers around it are accepted too). Without parallel
 * calls only the first call is kept.
 * <p>
 * Where decoding enforces the block ({@code incremental}: a forced choice, or "auto" under {@link
 * ResponseFormat#autoCalls}), each call is announced as soon as its name is whole and its arguments follow piece by
 * piece as they are written ({@link Delta}s, which a stream sends as OpenAI does; a call is announced once its
 * name is whole and its arguments have opened); the call's arguments are then
 * those pieces joined, the model's JSON without its white space. A call cut short by the end of the output (max_tokens)
 * stays a call with the arguments it got ({@link #truncated()}). Otherwise a block is parsed once whole and its calls
 * announced then, arguments in one piece.
 */
final class ToolCallStream {
    /** An OpenAI tool call: the arguments as compact JSON text. */
    record ToolCall(String id, String name, String arguments) {
    }

    /** A streamed part of call {@code index}: the first names it (id, name, arguments ""), the next add arguments. */
    record Delta(int index, String id, String name, String arguments) {
        boolean head() {
            return name != null;
        }
    }

    /** What became final: text for the content, whole calls, and the parts of calls to stream. */
    record Out(String content, List<ToolCall> calls, List<Delta> deltas) {
        static final Out EMPTY = new Out("", List.of(), List.of());
    }

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final ToolSpec spec;
    private final String open, close;
    private final boolean incremental;
    /** Text not yet released: a possible marker's start, or a block of calls still open. */
    private final StringBuilder held = new StringBuilder();
    /** Whether {@link #held} is inside a block; how many calls were announced. */
    private boolean inCall;
    private int calls;
    /** The open block's reader ({@code incremental} only), and how much of {@link #held} it has read. */
    private CallScanner scanner;
    private int fed;
    /** Per call of the open block: its index and id once announced, null while unnamed or when dropped. */
    private final List<Announced> announced = new ArrayList<>();
    private boolean truncated;

    private static final class Announced {
        final int index;
        final String id;
        int sent;

        Announced(int index, String id) {
            this.index = index;
            this.id = id;
        }
    }

    ToolCallStream(ToolSpec spec, String open, String close) {
        this(spec, open, close, false);
    }

    ToolCallStream(ToolSpec spec, String open, String close, boolean incremental) {
        this.spec = spec;
        this.open = open;
        this.close = close;
        this.incremental = incremental;
    }

    /** The whole answer at once (tests, and what a stream comes to). */
    static Out parse(ToolSpec spec, String open, String close, String text) {
        return all(new ToolCallStream(spec, open, close), text);
    }

    /** {@code text} pushed and finished; the outputs joined. */
    static Out all(ToolCallStream s, String text) {
        Out a = s.push(text), b = s.finish();
        List<ToolCall> calls = new ArrayList<>(a.calls());
        calls.addAll(b.calls());
        List<Delta> deltas = new ArrayList<>(a.deltas());
        deltas.addAll(b.deltas());
        return new Out(a.content() + b.content(), calls, deltas);
    }

    /** Whether the last call was cut short by the end of the output, its arguments incomplete. */
    boolean truncated() {
        return truncated;
    }

    Out push(String text) {
        held.append(text);
        StringBuilder content = new StringBuilder();
        List<ToolCall> found = new ArrayList<>();
        List<Delta> deltas = new ArrayList<>();
        if (spec.forced()) {
            // the whole answer is one block: read as it comes when enforced, else judged at the end
            if (incremental) scan(held.length(), found, deltas);
            return new Out("", found, deltas);
        }
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
                if (at < 0) {
                    if (incremental) scan(held.length() - partialMarker(held, close), found, deltas);
                    break;
                }
                if (incremental) scan(at, found, deltas);
                String block = held.substring(0, at);
                held.delete(0, at + close.length());
                inCall = false;
                endBlock(block, content, found, deltas);
            }
        }
        return new Out(content.toString(), found, deltas);
    }

    /** The rest at the end of the answer: an unclosed block is judged as it stands. */
    Out finish() {
        StringBuilder content = new StringBuilder();
        List<ToolCall> found = new ArrayList<>();
        List<Delta> deltas = new ArrayList<>();
        if (incremental && (spec.forced() || inCall)) scan(held.length(), found, deltas);
        String rest = held.toString();
        held.setLength(0);
        if (spec.forced()) {
            if (anyAnnounced()) {
                endBlock(rest, content, found, deltas);
            } else {
                String s = rest.strip();
                if (s.startsWith(open)) s = s.substring(open.length());
                if (s.endsWith(close)) s = s.substring(0, s.length() - close.length());
                List<ToolCall> c = calls(s);
                if (c == null) content.append(rest);
                else take(c, found, deltas);
            }
        } else if (inCall) {
            inCall = false;
            if (rest.isBlank() && !anyAnnounced()) content.append(open);
            else endBlock(rest, content, found, deltas);
        } else {
            content.append(rest);
        }
        return new Out(content.toString(), found, deltas);
    }

    private boolean anyAnnounced() {
        for (Announced a : announced) if (a != null) return true;
        return false;
    }

    /** Feeds the open block's reader {@link #held} up to {@code upTo}, and announces what it found. */
    private void scan(int upTo, List<ToolCall> found, List<Delta> deltas) {
        if (scanner == null) {
            scanner = new CallScanner();
            fed = 0;
        }
        if (upTo > fed) {
            scanner.push(held.subSequence(fed, upTo));
            fed = upTo;
        }
        List<CallScanner.Call> cs = scanner.calls;
        for (int i = 0; i < cs.size(); i++) {
            CallScanner.Call c = cs.get(i);
            if (i == announced.size()) {
                // announced once its name is whole and its arguments have started as an object (or it closed without)
                if (!c.named || !(c.hasArguments || c.done) || scanner.lost()) return;
                String name = c.name.toString();
                // an undeclared name, or a call past the first without parallel calls: not announced
                boolean keep = spec.function(name) != null && (spec.parallel() || calls == 0);
                Announced a = keep ? new Announced(calls++, newId()) : null;
                announced.add(a);
                if (a != null) deltas.add(new Delta(a.index, a.id, name, ""));
            }
            Announced a = announced.get(i);
            if (a == null || a.sent < 0) continue;
            if (c.arguments.length() > a.sent) {
                deltas.add(new Delta(a.index, null, null, c.arguments.substring(a.sent)));
                a.sent = c.arguments.length();
            }
            if (c.done) {
                if (!c.hasArguments) deltas.add(new Delta(a.index, null, null, "{}"));
                found.add(new ToolCall(a.id, c.name.toString(), c.hasArguments ? c.arguments.toString() : "{}"));
                a.sent = -1; // released
            }
        }
    }

    /**
     * A block has ended (its closing marker, or the end of the output). Read incrementally, its announced calls
     * stand; an announced call that never closed is kept as it got (cut short). Nothing announced: parsed whole.
     */
    private void endBlock(String block, StringBuilder content, List<ToolCall> found, List<Delta> deltas) {
        if (scanner != null && anyAnnounced()) {
            List<CallScanner.Call> cs = scanner.calls;
            for (int i = 0; i < announced.size(); i++) {
                Announced a = announced.get(i);
                if (a == null || a.sent < 0) continue;
                found.add(new ToolCall(a.id, cs.get(i).name.toString(), cs.get(i).arguments.toString()));
                truncated = true;
            }
        } else {
            List<ToolCall> c = calls(block);
            if (c == null) content.append(open).append(block).append(close);
            else take(c, found, deltas);
        }
        scanner = null;
        announced.clear();
    }

    private void take(List<ToolCall> c, List<ToolCall> found, List<Delta> deltas) {
        for (ToolCall t : c) {
            if (!spec.parallel() && calls > 0) return;
            found.add(t);
            deltas.add(new Delta(calls, t.id(), t.name(), ""));
            deltas.add(new Delta(calls, null, null, t.arguments()));
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
