package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.Step;
import moge.generate.TokenListener;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.spec.SpeculativeDecoder;
import moge.thinking.ThinkingListener;
import moge.thinking.ThinkingOptions;
import moge.thinking.ThinkingResult;
import moge.thinking.ThinkingRunner;
import moge.tokenizer.TextMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** One completion: raw text, one chat turn, or verbatim token ids. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a completion for a prompt.")
public final class GenerateCommand implements Runnable {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    SpecOptions speculation;

    @Mixin
    ThinkingCliOptions thinking;

    @Option(names = "--hide-reasoning", description = "With --chat: print only the answer, not the reasoning.")
    boolean hideReasoning;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "Prompt text (BOS added per tokenizer_config.json).")
    String prompt;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Prompt text read from FILE (UTF-8), as llama-cli's -f.")
    java.nio.file.Path promptFile;

    @Option(names = "--prompt-ids", split = ",", paramLabel = "IDS", description = "Prompt as token ids, used verbatim (no BOS).")
    int[] promptIds;

    @Option(names = "--chat", description = "Treat the prompt as one user turn through the model's chat template.")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "With --chat: a system turn before the user turn.")
    String system;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N",
            description = "Tokens to generate at most (default -1: until an end-of-turn token or the context is full, as llama-cli).")
    int maxTokens = -1;

    @Option(names = "--special", description = "Without --chat: show special tokens (turn and think markers) in the text.")
    boolean special;

    @Option(names = "--ignore-eos", description = "Keep generating past the end-of-turn token.")
    boolean ignoreEos;

    @Option(names = "--top-logprobs", paramLabel = "K", description = "Alternatives per step in --json output (default 5).")
    int topLogprobs = 5;

    @Option(names = "--prompt-logprobs", description = "With --json: also a step for every prompt position.")
    boolean promptLogprobs;

    @picocli.CommandLine.Mixin
    ConstraintOptions constraints;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text appears (repeatable).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object (ids, text, per-step log-probs, timings; with --chat the text "
            + "is the answer, and reasoning, content, thinking and usage are added) instead of streaming text.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if ((prompt != null ? 1 : 0) + (promptFile != null ? 1 : 0) + (promptIds != null ? 1 : 0) != 1) {
            throw new MogeException("give exactly one of --prompt, --file or --prompt-ids");
        }
        if (promptFile != null) prompt = Prompts.readText(promptFile);
        if (maxTokens < -1) throw new MogeException("--max-tokens must be >= 0, or -1 for no limit, got " + maxTokens);
        if (topLogprobs < 0 || topLogprobs > 100) throw new MogeException("--top-logprobs must be in 0..100, got " + topLogprobs);
        if (!chat && (thinking.given() || hideReasoning)) {
            throw new MogeException("--think, --thinking-budget, --budget-message and --hide-reasoning need --chat");
        }
        PrintWriter out = spec.commandLine().getOut();
        speculation.checked(model, spec.commandLine().getErr());
        try (ModelHandle h = model.open(); SpeculativeDecoder draft = speculation.open(h.loaded, h.model, model.context(h.loaded))) {
            LoadedModel lm = h.loaded;
            Model m = h.model;
            int ctx = model.context(lm);
            Generator g = new Generator(m, lm.tokenizer, ctx);
            SpecOptions.attach(g, draft);
            if (constraints.given()) g.setConstraint(constraints.constraint(lm, chat));
            // the generator stops when the context is full, so the context is the cap of "no limit"
            int limit = maxTokens < 0 ? ctx : maxTokens;
            TextMode mode = chat ? TextMode.CHAT : special ? TextMode.CONTINUATION_WITH_SPECIAL : TextMode.CONTINUATION;
            GenerateOptions o = new GenerateOptions(limit, sampling.params(lm.config.vocabSize()), Prompts.stopIds(lm), ignoreEos, topLogprobs,
                    promptLogprobs && json, stop, mode);
            if (chat && promptIds == null) {
                chatTurn(lm, g, o, out);
                return;
            }
            int[] ids = promptIds != null ? promptIds.clone() : Prompts.encode(lm, prompt, chat, system);
            TokenListener stream = json ? TokenListener.NONE : (id, text, step) -> {
                out.print(text);
                out.flush();
                return true;
            };
            GenerationResult r = g.generate(ids, o, stream);
            if (json) {
                out.println(toJson(r).toPrettyString());
            } else {
                out.println();
                noteFullContext(r, ctx);
                noteSpeculation(r);
            }
        }
    }

    /** One user turn in the requested thinking mode: reasoning and answer apart. */
    private void chatTurn(LoadedModel lm, Generator g, GenerateOptions o, PrintWriter out) {
        Prompts.requireTokenizer(lm);
        ThinkingOptions t = thinking.options();
        ThinkingRunner runner = new ThinkingRunner(g, lm.tokenizer, lm.chatTemplate);
        ReasoningPrinter printer = new ReasoningPrinter(out, ReasoningPrinter.stdoutIsTerminal(), hideReasoning);
        ThinkingResult r = runner.chat(Prompts.messages(system, prompt), t, o, json ? ThinkingListener.NONE : printer);
        if (json) {
            ObjectNode n = toJson(r.last());
            ThinkingJson.put(n, r, t);
            out.println(n.toPrettyString());
        } else {
            printer.finish();
            out.println();
            noteFullContext(r.last(), g.context());
            noteSpeculation(r.last());
        }
    }

    /** Without -n the text ends at an end-of-turn token; say so when the context ran out first. */
    private void noteFullContext(GenerationResult r, int ctx) {
        if (maxTokens < 0 && "length".equals(r.finishReason())) {
            spec.commandLine().getErr().println("moge: stopped: the context of " + ctx + " tokens is full (see --ctx, -n)");
        }
    }

    /** As llama.cpp's speculative runs end with their acceptance figures (--json has them all in "speculation"). */
    private void noteSpeculation(GenerationResult r) {
        if (r.speculation() != null) spec.commandLine().getErr().println("moge: speculative decoding with " + SpecOptions.summary(r.speculation()));
    }

    static ObjectNode toJson(GenerationResult r) {
        ObjectMapper om = new ObjectMapper();
        ObjectNode n = om.createObjectNode();
        ArrayNode p = n.putArray("prompt_ids");
        Arrays.stream(r.promptIds()).forEach(p::add);
        ArrayNode g = n.putArray("generated_ids");
        Arrays.stream(r.generatedIds()).forEach(g::add);
        n.put("text", r.text());
        n.put("finish_reason", r.finishReason());
        steps(n.putArray("steps"), r.steps());
        if (!r.promptSteps().isEmpty()) steps(n.putArray("prompt_steps"), r.promptSteps());
        ObjectNode t = n.putObject("timings");
        t.put("prompt_n", r.timings().promptN());
        t.put("prompt_ms", r.timings().promptMs());
        t.put("prompt_per_second", r.timings().promptPerSecond());
        t.put("predicted_n", r.timings().predictedN());
        t.put("predicted_ms", r.timings().predictedMs());
        t.put("predicted_per_second", r.timings().predictedPerSecond());
        if (r.speculation() != null) SpecOptions.toJson(n.putObject("speculation"), r.speculation());
        return n;
    }

    private static void steps(ArrayNode arr, List<Step> steps) {
        for (Step s : steps) {
            ObjectNode o = arr.addObject();
            o.put("pos", s.pos());
            o.put("id", s.id());
            o.put("logprob", s.logprob());
            ArrayNode top = o.putArray("top");
            for (int i = 0; i < s.topIds().length; i++) top.addArray().add(s.topIds()[i]).add(s.topLogprobs()[i]);
            if (Double.isFinite(s.margin())) o.put("margin", s.margin());
        }
    }
}
