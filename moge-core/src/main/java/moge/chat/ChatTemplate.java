package moge.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import moge.MogeException;
import moge.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Turns a conversation into the prompt text a model was trained on. Hugging Face chat templates (Jinja) are rendered
 * with Jinjava configured like transformers' environment (trim_blocks, lstrip_blocks, {@code raise_exception}); the
 * built-in openPangu format is plain Java, used when a checkpoint ships no template. BOS is not part of the output:
 * the tokenizer adds it.
 */
public final class ChatTemplate {
    /** openPangu's turn markers; {@link #END_OF_TURN} is also the chat EOS of those models. */
    public static final String TURN_START = "[unused9]";
    public static final String END_OF_TURN = "[unused10]";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static volatile Jinjava jinjava;

    private final String name;
    private final String source;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String name, String source, String bosToken, String eosToken) {
        this.name = name;
        this.source = source;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /** The built-in openPangu format, identical to the template in the openPangu tokenizer_config.json. */
    public static ChatTemplate openPangu() {
        return new ChatTemplate("built-in openPangu template", null, "<s>", END_OF_TURN);
    }

    /** A Jinja template; {@code name} identifies it in error messages (e.g. the file it came from). */
    public static ChatTemplate of(String name, String source, String bosToken, String eosToken) {
        Objects.requireNonNull(source, "source");
        return new ChatTemplate(name, source, bosToken == null ? "" : bosToken, eosToken == null ? "" : eosToken);
    }

    /**
     * The template of a model directory: {@code chat_template} in tokenizer_config.json (a string, or a list of
     * named templates of which "default" or else the first is used), then {@code chat_template.jinja}, else the
     * built-in openPangu format. {@code bos_token}/{@code eos_token} are the tokenizer's pieces for its BOS/EOS.
     */
    public static ChatTemplate load(Path modelDir, Tokenizer tokenizer) {
        String bos = bosPiece(tokenizer), eos = eosPiece(tokenizer);
        Path config = modelDir.resolve("tokenizer_config.json");
        String fromConfig = templateInConfig(config);
        if (fromConfig != null) return of(config + " chat_template", fromConfig, bos, eos);
        Path jinja = modelDir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                return of(jinja.toString(), Files.readString(jinja), bos, eos);
            } catch (IOException e) {
                throw new MogeException("chat_template.jinja: cannot read " + jinja + ": " + e.getMessage(), e);
            }
        }
        ChatTemplate builtIn = openPangu();
        return new ChatTemplate(builtIn.name, null, bos, eos);
    }

    /** ChatML, llama.cpp's default for a model without a template of its own. */
    public static final String CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
            + " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    /** The names {@link #named} knows. */
    public static final List<String> BUILT_IN_NAMES = List.of("openpangu", "chatml");

    /**
     * A template given on the command line instead of the model's (llama.cpp's and vLLM's {@code --chat-template}):
     * a built-in name ({@link #BUILT_IN_NAMES}) or Jinja text; checked by rendering a short conversation, so a
     * broken template fails before the model serves anyone.
     */
    public static ChatTemplate named(String value, Tokenizer tokenizer) {
        return named(value, bosPiece(tokenizer), eosPiece(tokenizer));
    }

    /** As {@link #named(String, Tokenizer)} with the BOS/EOS pieces given (e.g. placeholders before a model is loaded). */
    public static ChatTemplate named(String value, String bos, String eos) {
        String v = value.strip();
        ChatTemplate t;
        if (v.equalsIgnoreCase("openpangu")) t = new ChatTemplate(openPangu().name, null, bos, eos);
        else if (v.equalsIgnoreCase("chatml")) t = of("built-in ChatML template", CHATML, bos, eos);
        else if (v.contains("{{") || v.contains("{%")) t = of("--chat-template", value, bos, eos);
        else {
            throw new MogeException("--chat-template: unknown template '" + v + "' (built-in: " + String.join(", ", BUILT_IN_NAMES)
                    + "; or Jinja text, or --chat-template-file FILE)");
        }
        return t.checked();
    }

    /** A Jinja template file given instead of the model's ({@code --chat-template-file}), checked as {@link #named} is. */
    public static ChatTemplate fromFile(Path file, String text, String bos, String eos) {
        return of(file.toString(), text, bos, eos).checked();
    }

    public static ChatTemplate fromFile(Path file, String text, Tokenizer tokenizer) {
        return fromFile(file, text, bosPiece(tokenizer), eosPiece(tokenizer));
    }

    /** Renders a system, user, assistant, user conversation; throws the render error naming the template. */
    public ChatTemplate checked() {
        render(List.of(new ChatMessage("system", "You are helpful."), new ChatMessage("user", "Hi"),
                new ChatMessage("assistant", "Hello."), new ChatMessage("user", "What is 2+2?")), true);
        return this;
    }

    private static String bosPiece(Tokenizer t) {
        return t.special().bos() >= 0 ? t.piece(t.special().bos()) : "";
    }

    private static String eosPiece(Tokenizer t) {
        return t.special().eos() >= 0 ? t.piece(t.special().eos()) : "";
    }

    private static String templateInConfig(Path config) {
        if (!Files.isRegularFile(config)) return null;
        JsonNode root;
        try {
            root = JSON.readTree(config.toFile());
        } catch (IOException e) {
            throw new MogeException("tokenizer_config.json: cannot parse " + config + ": " + e.getMessage(), e);
        }
        JsonNode t = root == null ? null : root.get("chat_template");
        if (t == null || t.isNull()) return null;
        if (t.isTextual()) return t.asText();
        if (t.isArray()) {
            JsonNode first = null;
            for (JsonNode named : t) {
                if (!named.path("template").isTextual()) continue;
                if (first == null) first = named;
                if ("default".equals(named.path("name").asText())) return named.get("template").asText();
            }
            if (first != null) return first.get("template").asText();
        }
        throw new MogeException("tokenizer_config.json: chat_template in " + config + " is neither a string nor a list of named templates");
    }

    public String name() {
        return name;
    }

    /**
     * Whether the Jinja template reads a variable or message key of this name (e.g. {@code tools}, {@code tool_calls}):
     * a word inside its {{ }} or {% %} blocks (a quoted string there counts too: a cheap, cautious test). The built-in
     * format reads none.
     */
    public boolean reads(String name) {
        if (source == null) return false;
        java.util.regex.Matcher code = java.util.regex.Pattern.compile("\\{[{%](.*?)[%}]\\}", java.util.regex.Pattern.DOTALL).matcher(source);
        java.util.regex.Pattern word = java.util.regex.Pattern.compile("(?<![A-Za-z0-9_])" + java.util.regex.Pattern.quote(name) + "(?![A-Za-z0-9_])");
        while (code.find()) if (word.matcher(code.group(1)).find()) return true;
        return false;
    }

    /** True when rendering uses the built-in openPangu format rather than a Jinja template. */
    public boolean isBuiltIn() {
        return source == null;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders the conversation. {@code extra} become further template variables (e.g. {@code enable_thinking});
     * they may override bos_token/eos_token but not messages or add_generation_prompt.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extra) {
        if (source == null) return renderOpenPangu(messages, addGenerationPrompt);
        Map<String, Object> vars = new HashMap<>();
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.putAll(extra);
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            map.putAll(m.fields());
            msgs.add(map);
        }
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = engine().renderForResult(source, vars);
        } catch (RuntimeException e) {
            throw new MogeException("chat template " + name + ": " + oneLine(String.valueOf(e.getMessage())), e);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                String where = error.getLineno() > 0 ? " (line " + error.getLineno() + ")" : "";
                throw new MogeException("chat template " + name + ": " + oneLine(messageOf(error)) + where);
            }
        }
        return result.getOutput();
    }

    private String renderOpenPangu(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            if (i == 0 && !m.role().equals("system")) sb.append(TURN_START).append("系统：").append(END_OF_TURN);
            String role = switch (m.role()) {
                case "system" -> "系统";
                case "user" -> "用户";
                case "assistant" -> "助手";
                case "tool" -> "工具";
                case "function" -> "方法";
                // the Jinja original silently drops such turns; losing a message unnoticed is worse
                default -> throw new MogeException("chat template " + name + ": unknown role '" + m.role()
                        + "' (expected system, user, assistant, tool or function)");
            };
            sb.append(TURN_START).append(role).append('：').append(m.content()).append(END_OF_TURN);
        }
        if (addGenerationPrompt) sb.append(TURN_START).append("助手：");
        return sb.toString();
    }

    /** Called by templates as {@code raise_exception('...')}; HF templates use it to reject bad conversations. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message);
    }

    /** What {@code raise_exception} throws; Jinjava turns it into a fatal render error carrying the message. */
    static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super("raise_exception: " + message);
        }
    }

    private static Jinjava engine() {
        Jinjava j = jinjava;
        if (j != null) return j;
        synchronized (ChatTemplate.class) {
            if (jinjava == null) jinjava = newEngine();
            return jinjava;
        }
    }

    private static Jinjava newEngine() {
        LegacyOverrides python = LegacyOverrides.newBuilder()
                .withEvaluateMapKeys(true)
                .withIterateOverMapKeys(true)
                .withUsePyishObjectMapper(true)
                .withUseNaturalOperatorPrecedence(true)
                .withParseWhitespaceControlStrictly(true)
                // {{- x }} and {{ x -}} trim white space as in Jinja (without it Jinjava honours '-' on {% %} tags only,
                // and tool-aware templates such as Qwen's, written with {{- ... }} on indented lines, get stray indentation)
                .withUseTrimmingForNotesAndExpressions(true)
                .withKeepNullableLoopValues(true)
                .build();
        JinjavaConfig config = JinjavaConfig.newBuilder()
                // the options transformers compiles chat templates with
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // message text must never be evaluated as template code
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(python)
                .withMaxOutputSize(256L << 20)
                .build();
        Jinjava j = new Jinjava(config);
        // include/import/extends would read files or classpath resources: a chat template has no business doing so
        j.setResourceLocator((path, encoding, interpreter) -> {
            throw new IOException("chat templates may not load other templates ('" + path + "')");
        });
        j.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        j.registerFilter(new PythonJson());
        return j;
    }

    /** Jinjava reports a throwing function only as "Error invoking function"; the template's own text is in the cause. */
    private static String messageOf(TemplateError error) {
        for (Throwable t = error.getException(); t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof TemplateRaisedException) return t.getMessage();
        }
        return error.getMessage();
    }

    private static String oneLine(String s) {
        return s == null ? "error" : s.replace('\n', ' ').strip();
    }
}
