package moge.cli;

import moge.chat.ChatMessage;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.sample.SamplerParams;
import moge.spec.SpeculativeDecoder;
import moge.thinking.ThinkPrompt;
import moge.thinking.ThinkingMode;
import moge.thinking.ThinkingOptions;
import moge.thinking.ThinkingResult;
import moge.thinking.ThinkingRunner;
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

    @Mixin
    SpecOptions speculation;

    @Mixin
    ThinkingCliOptions thinking;

    @Option(names = "--hide-reasoning", description = "Show only the answers, not the reasoning (shown dimmed otherwise).")
    boolean hideReasoning;

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
        chat(in, out, System.console() != null, ReasoningPrinter.stdoutIsTerminal());
    }

    void chat(BufferedReader in, PrintWriter out, boolean interactive) {
        chat(in, out, interactive, false);
    }

    /** @param ansi style the reasoning with ANSI escapes (only when the output is a terminal) */
    void chat(BufferedReader in, PrintWriter out, boolean interactive, boolean ansi) {
        ThinkingOptions t = thinking.options();
        speculation.checked(model, spec.commandLine().getErr());
        try (ModelHandle h = model.open(); SpeculativeDecoder draft = speculation.open(h.loaded, h.model, model.context(h.loaded))) {
            LoadedModel lm = h.loaded;
            Model m = h.model;
            Prompts.requireTokenizer(lm);
            int ctx = model.context(lm);
            Generator g = new Generator(m, lm.tokenizer, ctx);
            SpecOptions.attach(g, draft);
            ThinkingRunner runner = new ThinkingRunner(g, lm.tokenizer, lm.chatTemplate);
            // checked before the first message, not after the user has typed it
            SamplerParams sp = sampling.params(lm.config.vocabSize());
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
                int[] ids = fit(lm, runner, history, t, ctx);
                if (ids.length >= ctx) {
                    // one message longer than the context: say so and go on with the conversation, as before it
                    history.removeLast();
                    spec.commandLine().getErr().printf("moge: that message is %d tokens with the chat template; the context holds %d "
                            + "(raise --ctx)%n", ids.length, ctx);
                    spec.commandLine().getErr().flush();
                    continue;
                }
                GenerateOptions o = new GenerateOptions(Math.min(maxTokens, ctx - ids.length - 1), sp,
                        Prompts.stopIds(lm), false, 0, false, List.of());
                ReasoningPrinter printer = new ReasoningPrinter(out, ansi, hideReasoning);
                ThinkingResult tr = runner.chat(history, t, o, printer);
                printer.finish();
                out.println();
                GenerationResult r = tr.last();
                if (interactive) {
                    String specNote = r.speculation() == null ? "" : ", " + SpecOptions.summary(r.speculation());
                    out.printf("  [%s: %d tokens (%d reasoning), %.1f tok/s%s]%n", tr.modeUsed(), tr.totalGeneratedTokens(),
                            tr.totalReasoningTokens(), r.timings().predictedPerSecond(), specNote);
                }
                out.flush();
                // like the reference templates, later turns see the answer, not the reasoning behind it
                history.add(new ChatMessage("assistant", tr.content()));
            }
        } catch (IOException e) {
            throw new moge.MogeException("reading input failed: " + e.getMessage());
        }
    }

    /**
     * The prompt of the conversation, after dropping its oldest turns while it leaves the answer less room than
     * -n or half the context (whichever is less). Dropping only once the prompt no longer fitted at all left
     * later answers a few tokens, or none, without a word.
     */
    private int[] fit(LoadedModel lm, ThinkingRunner runner, List<ChatMessage> history, ThinkingOptions t, int ctx) {
        int room = Math.max(1, Math.min(maxTokens, ctx / 2));
        int first = system != null ? 1 : 0;
        int[] ids = prompt(lm, runner, history, t);
        while (ids.length + room >= ctx && history.size() > first + 1) {
            history.remove(first);
            // a conversation starts with a user turn: drop the answer of the turn just dropped too
            while (history.size() > first + 1 && !history.get(first).role().equals("user")) history.remove(first);
            ids = prompt(lm, runner, history, t);
        }
        return ids;
    }

    /** The prompt as the runner will send it (a cascade's fast attempt is the longer of its two). */
    private static int[] prompt(LoadedModel lm, ThinkingRunner runner, List<ChatMessage> history, ThinkingOptions options) {
        ThinkingOptions t = ThinkPrompt.withTypedMode(options, history, runner.protocol());
        ThinkingMode mode = t.mode() == ThinkingMode.CASCADE || t.budget() == 0 ? ThinkingMode.FAST : t.mode();
        return lm.tokenizer.encodePrompt(ThinkPrompt.render(lm.chatTemplate, history, mode, runner.protocol()));
    }
}
