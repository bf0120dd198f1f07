package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.model.ModelDescription;
import moge.model.ModelLoader;
import moge.tokenizer.StreamDecoder;
import moge.tokenizer.TextMode;
import moge.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * llama-tokenize for moge: what the model's tokenizer makes of a text (or of a chat turn through its template),
 * read without loading the weights, to see why a prompt is as long as it is or where a stop string falls.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Show how the model's tokenizer splits a text: one 'id -> piece' line per token (llama-tokenize's output), or --ids / --json.")
public final class TokenizeCommand implements Runnable {
    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "Text to tokenize.")
    String prompt;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Text to tokenize, read from FILE (UTF-8).")
    Path file;

    @Option(names = "--chat", description = "Tokenize the text as one user turn through the model's chat template (with the generation prompt).")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "With --chat: a system turn before the user turn.")
    String system;

    @Option(names = "--no-bos", description = "Leave out the BOS token the tokenizer config adds to prompts.")
    boolean noBos;

    @Option(names = "--ids", description = "Print only the ids, as a list ([1, 2, 3]).")
    boolean ids;

    @Option(names = "--show-count", description = "Also print the number of tokens.")
    boolean showCount;

    @Option(names = "--json", description = "Print {ids, pieces, count} as JSON.")
    boolean json;

    @Mixin
    ModelOptions model;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if ((prompt == null) == (file == null)) throw new MogeException("give exactly one of --prompt or --file");
        if (system != null && !chat) throw new MogeException("--system needs --chat");
        String text = prompt != null ? prompt : Prompts.readText(file);
        PrintWriter out = spec.commandLine().getOut();
        try (ModelDescription d = ModelLoader.describe(model.existingModelPath(), null)) {
            Tokenizer tok = d.tokenizer();
            if (tok == null) throw new MogeException(d.path() + ": the model has no tokenizer");
            var override = model.chatTemplateOverride();
            moge.chat.ChatTemplate template = override != null ? override.apply(tok) : d.chatTemplate();
            String body = chat ? template.render(Prompts.messages(system, text), true) : text;
            int[] t = noBos ? tok.encode(body) : tok.encodePrompt(body);
            String[] pieces = pieces(tok, t);
            if (json) {
                ObjectNode n = new ObjectMapper().createObjectNode();
                ArrayNode a = n.putArray("ids"), p = n.putArray("pieces");
                for (int i = 0; i < t.length; i++) {
                    a.add(t[i]);
                    p.add(pieces[i]);
                }
                n.put("count", t.length);
                out.println(n.toPrettyString());
                return;
            }
            if (ids) {
                out.println(Arrays.stream(t).mapToObj(String::valueOf).collect(Collectors.joining(", ", "[", "]")));
            } else {
                for (int i = 0; i < t.length; i++) out.printf("%6d -> '%s'%n", t[i], pieces[i]);
            }
            if (showCount) out.println("Total number of tokens: " + t.length);
        }
    }

    /**
     * Each token's text as it continues the ones before it (its leading space kept, special tokens verbatim), so
     * the pieces join to the text; a character split over byte tokens shows on the token that completes it.
     */
    private static String[] pieces(Tokenizer tok, int[] ids) {
        StreamDecoder dec = tok.newStreamDecoder(TextMode.CONTINUATION_WITH_SPECIAL);
        String[] out = new String[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = dec.push(ids[i]);
        if (ids.length > 0) out[ids.length - 1] += dec.flush();
        return out;
    }
}
