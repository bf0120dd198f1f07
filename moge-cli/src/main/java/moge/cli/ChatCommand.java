package moge.cli;

import moge.chat.ChatMessage;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.model.KvCache;
import moge.model.LoadedModel;
import moge.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Multi-turn chat in the terminal. From a terminal it prompts for each turn; with piped input it answers
 * each line and exits at the end of input. The cache keeps the conversation, so each turn only prefills
 * what is new.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model in the terminal (/reset, /exit).")
public final class ChatCommand implements Runnable {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system turn at the start of the conversation.")
    String system;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", description = "Tokens per answer at most (default 512).")
    int maxTokens = 512;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        chat(in, out, System.console() != null);
    }

    void chat(BufferedReader in, PrintWriter out, boolean interactive) {
        try (LoadedModel lm = model.load(); Model m = new Model(lm.config, lm.weights, model.threads, model.batch)) {
            Prompts.requireTokenizer(lm);
            int ctx = model.context(lm);
            KvCache cache = KvCache.forContext(lm.config, ctx, 1, 16);
            Generator g = new Generator(m, lm.tokenizer, cache.newSequence(), ctx);
            List<ChatMessage> history = new ArrayList<>();
            if (system != null) history.add(new ChatMessage("system", system));
            if (interactive) {
                out.printf("moge chat: %s (%s). /reset starts over, /exit or Ctrl-D quits.%n", lm.name(), lm.config.arch().hfName);
            }
            while (true) {
                if (interactive) {
                    out.print("> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.isBlank()) continue;
                if (line.strip().equals("/reset")) {
                    history.removeIf(msg -> !msg.role().equals("system"));
                    out.println("(conversation cleared)");
                    continue;
                }
                history.add(new ChatMessage("user", line));
                int[] ids = Prompts.chat(lm, history);
                if (ids.length >= ctx) {
                    // Drop the oldest turns until the conversation fits again.
                    while (history.size() > 1 && Prompts.chat(lm, history).length >= ctx) history.remove(system != null ? 1 : 0);
                    ids = Prompts.chat(lm, history);
                }
                GenerateOptions o = new GenerateOptions(Math.min(maxTokens, ctx - ids.length - 1), sampling.params(),
                        Prompts.stopIds(lm), false, 0, false, List.of());
                GenerationResult r = g.generate(ids, o, (id, text, step) -> {
                    out.print(text);
                    out.flush();
                    return true;
                });
                out.println();
                if (interactive) {
                    out.printf("  [%d tokens, %.1f tok/s]%n", r.generatedIds().length, r.timings().predictedPerSecond());
                }
                out.flush();
                history.add(new ChatMessage("assistant", r.text()));
            }
        } catch (IOException e) {
            throw new moge.MogeException("reading input failed: " + e.getMessage());
        }
    }
}
