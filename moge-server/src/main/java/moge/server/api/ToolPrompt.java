package moge.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.chat.ChatTemplate;
import moge.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How tools reach the prompt. A Jinja template that reads {@code tools} gets them as a variable (and assistant
 * turns their {@code tool_calls}) and renders them its own way. Otherwise (openPangu's templates, built-in or
 * shipped, have no tool support) our documented rendering applies, after openPangu's agent prompts: the functions
 * as JSON lines inside {@code <tools></tools>} at the end of the system turn, and calls written as a JSON array
 * of {"name", "arguments"} objects between the call markers, {@code [unused11]} and {@code [unused12]} where the
 * vocabulary has them (vLLM's pangu tool parser reads the same), else {@code <tool_call>} and {@code </tool_call>}.
 * Earlier calls in the conversation are written into their assistant turns the same way; tool results are
 * turns of role tool (openPangu's 工具).
 */
final class ToolPrompt {
    static final String PANGU_OPEN = "[unused11]", PANGU_CLOSE = "[unused12]";
    static final String TEXT_OPEN = "<tool_call>", TEXT_CLOSE = "</tool_call>";

    final String open, close;
    /** The markers' ids when each is a single token, else -1 (then an "auto" call's constraint matches their text). */
    final int openId, closeId;

    ToolPrompt(Tokenizer tokenizer) {
        this(piece -> tokenizer.tokenId(piece).orElse(-1));
    }

    /** @param tokenId the id of a text that is a single token of the model's vocabulary, else -1 */
    ToolPrompt(java.util.function.ToIntFunction<String> tokenId) {
        boolean pangu = tokenId.applyAsInt(PANGU_OPEN) >= 0 && tokenId.applyAsInt(PANGU_CLOSE) >= 0;
        this.open = pangu ? PANGU_OPEN : TEXT_OPEN;
        this.close = pangu ? PANGU_CLOSE : TEXT_CLOSE;
        int o = tokenId.applyAsInt(open), c = tokenId.applyAsInt(close);
        this.openId = o >= 0 && c >= 0 ? o : -1;
        this.closeId = o >= 0 && c >= 0 ? c : -1;
    }

    /** A parser of one choice's answer for these markers; {@code enforced}: decoding enforces the calls' JSON. */
    ToolCallStream stream(ToolSpec spec, boolean enforced) {
        return new ToolCallStream(spec, open, close, enforced);
    }

    /** The conversation as {@code template} is to render it: calls written into assistant turns, tools into the system turn. */
    List<ChatMessage> messages(List<ChatMessage> messages, ToolSpec spec, ChatTemplate template) {
        List<ChatMessage> out = new ArrayList<>(messages.size() + 1);
        boolean ownCalls = !template.reads("tool_calls");
        for (ChatMessage m : messages) {
            Object calls = m.fields().get("tool_calls");
            if (ownCalls && calls instanceof List<?> list && !list.isEmpty()) m = m.withContent(m.content() + callsText(list));
            out.add(m);
        }
        if (!spec.active() || template.reads("tools")) return out;
        String text = systemText(spec);
        if (!out.isEmpty() && out.getFirst().role().equals("system")) {
            ChatMessage sys = out.getFirst();
            out.set(0, sys.withContent(sys.content().isEmpty() ? text : sys.content() + "\n\n" + text));
        } else {
            out.addFirst(ChatMessage.system(text));
        }
        return out;
    }

    /** The template variables with the tools added, for a template that renders them itself. */
    Map<String, Object> variables(Map<String, Object> vars, ToolSpec spec, ChatTemplate template) {
        if (!spec.active() || !template.reads("tools")) return vars;
        List<Object> tools = new ArrayList<>();
        for (ToolSpec.Function f : spec.functions()) tools.add(RequestParser.JSON.convertValue(f.declaration(), Map.class));
        Map<String, Object> out = new LinkedHashMap<>(vars);
        out.put("tools", tools);
        return out;
    }

    /** The instructions and the tool list appended to the system turn. */
    String systemText(ToolSpec spec) {
        StringBuilder sb = new StringBuilder("# Tools\n\nYou may call the functions below. Each is described by a JSON object "
                + "on a line of its own inside <tools></tools>:\n<tools>\n");
        for (ToolSpec.Function f : spec.functions()) sb.append(compact(f.declaration())).append('\n');
        sb.append("</tools>\n\nTo call functions, write a JSON array of calls between ").append(open).append(" and ").append(close)
                .append(", each call an object with the function's \"name\" and its \"arguments\" object:\n")
                .append(open).append("[{\"name\": \"<function name>\", \"arguments\": {<arguments>}}]").append(close)
                .append("\nThe results come back in tool turns.");
        if (!spec.parallel()) sb.append(" Call one function at a time.");
        if (spec.choice() == ToolSpec.Choice.REQUIRED) sb.append(" Answer with a function call now.");
        if (spec.choice() == ToolSpec.Choice.NAMED) sb.append(" Answer by calling ").append(spec.named()).append(" now.");
        return sb.toString();
    }

    /** Calls of an assistant turn (template shape: arguments as objects) as the model writes them. */
    String callsText(List<?> calls) {
        ArrayNode arr = RequestParser.JSON.createArrayNode();
        for (Object c : calls) {
            Map<?, ?> fn = (Map<?, ?>) ((Map<?, ?>) c).get("function");
            ObjectNode o = arr.addObject();
            o.put("name", String.valueOf(fn.get("name")));
            o.set("arguments", RequestParser.JSON.valueToTree(fn.get("arguments")));
        }
        return open + compact(arr) + close;
    }

    /** JSON as the call format shows it: Python's json.dumps, as tool-aware templates write tools with tojson. */
    static String compact(Object node) {
        return moge.chat.PythonJson.dumps(node);
    }
}
