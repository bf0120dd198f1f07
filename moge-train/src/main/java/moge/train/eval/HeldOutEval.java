package moge.train.eval;

import moge.chat.ChatMessage;
import moge.generate.GenerateOptions;
import moge.generate.GenerationResult;
import moge.generate.Generator;
import moge.generate.TokenListener;
import moge.model.LoadedModel;
import moge.model.Model;
import moge.train.data.ChatFormat;
import moge.train.data.HeldOut;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy evaluation of a chat model on held-out items in the three thinking modes, through the inference
 * engine (moge.generate.Generator) exactly as a user would run it: the prompt is the model's own chat template
 * and tokenizer, generation stops at EOS, and the answer is the text after the last think-end marker.
 */
public final class HeldOutEval {
    /** One generation. */
    public record Output(HeldOut.Item item, ChatFormat.Mode mode, int[] prompt, int[] generated, String text, String answer,
                         boolean correct, boolean thought) {
    }

    /** Accuracy of one (mode, class) cell. */
    public record Cell(ChatFormat.Mode mode, String cls, int n, int correct, double meanTokens, double thinkRate) {
        public double accuracy() {
            return n == 0 ? 0 : (double) correct / n;
        }
    }

    private HeldOutEval() {
    }

    public static List<Output> run(LoadedModel lm, List<HeldOut.Item> items, List<ChatFormat.Mode> modes, int maxTokens, int threads) {
        List<Output> out = new ArrayList<>();
        int ctx = Math.min(lm.config.maxPositions(), 1024);
        try (Model m = new Model(lm.config, lm.weights, threads, 256)) {
            Generator g = new Generator(m, lm.tokenizer, ctx);
            GenerateOptions o = GenerateOptions.greedy(maxTokens, lm.tokenizer.eosIds());
            for (ChatFormat.Mode mode : modes) {
                for (HeldOut.Item it : items) {
                    String prompt = lm.chatTemplate.render(List.of(ChatMessage.user(it.prompt() + mode.suffix)), true);
                    int[] ids = lm.tokenizer.encodePrompt(prompt);
                    GenerationResult r = g.generate(ids, o, TokenListener.NONE);
                    String text = r.text();
                    String answer = answer(text);
                    out.add(new Output(it, mode, ids, r.generatedIds(), text, answer, answer.equals(it.expected().strip()), thought(text)));
                }
            }
        }
        return out;
    }

    /** The text after the last [unused17] (the whole text when there is none), trimmed. */
    public static String answer(String text) {
        int i = text.lastIndexOf("[unused17]");
        return (i >= 0 ? text.substring(i + "[unused17]".length()) : text).strip();
    }

    /** Whether the reply reasoned: a non-empty think block. */
    public static boolean thought(String text) {
        int a = text.indexOf("[unused16]"), b = text.indexOf("[unused17]");
        if (a < 0) return false;
        return b < 0 || !text.substring(a + "[unused16]".length(), b).isBlank();
    }

    /** Cells per (mode, class) in first-seen order, plus an "all" row per mode. */
    public static List<Cell> table(List<Output> outs) {
        Map<String, List<Output>> groups = new LinkedHashMap<>();
        for (Output o : outs) {
            groups.computeIfAbsent(o.mode() + "\u0000" + o.item().cls(), k -> new ArrayList<>()).add(o);
            groups.computeIfAbsent(o.mode() + "\u0000all", k -> new ArrayList<>()).add(o);
        }
        List<Cell> cells = new ArrayList<>();
        for (var e : groups.entrySet()) {
            List<Output> os = e.getValue();
            int correct = 0, thinks = 0;
            double tokens = 0;
            for (Output o : os) {
                if (o.correct()) correct++;
                if (o.thought()) thinks++;
                tokens += o.generated().length;
            }
            String[] k = e.getKey().split("\u0000");
            cells.add(new Cell(ChatFormat.Mode.valueOf(k[0]), k[1], os.size(), correct, tokens / os.size(), (double) thinks / os.size()));
        }
        return cells;
    }

    /** A Markdown table: one row per class, accuracy per mode (with mean generated tokens). */
    public static String markdown(List<Cell> cells) {
        List<String> classes = new ArrayList<>();
        List<ChatFormat.Mode> modes = new ArrayList<>();
        for (Cell c : cells) {
            if (!classes.contains(c.cls())) classes.add(c.cls());
            if (!modes.contains(c.mode())) modes.add(c.mode());
        }
        classes.remove("all");
        classes.add("all");
        StringBuilder sb = new StringBuilder("| class |");
        for (ChatFormat.Mode m : modes) sb.append(' ').append(m.name().toLowerCase()).append(" acc (tokens) |");
        sb.append("\n|---|");
        sb.append("---:|".repeat(modes.size())).append('\n');
        for (String cls : classes) {
            sb.append("| ").append(cls).append(" |");
            for (ChatFormat.Mode m : modes) {
                for (Cell c : cells) {
                    if (c.mode() == m && c.cls().equals(cls)) {
                        sb.append(String.format(java.util.Locale.ROOT, " %.1f%% (%.0f) |", 100 * c.accuracy(), c.meanTokens()));
                    }
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
