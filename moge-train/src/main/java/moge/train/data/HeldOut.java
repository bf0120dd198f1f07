package moge.train.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.MogeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The held-out evaluation problems: half easy, half hard (each hard class gives perClass problems, the easy
 * classes share as many between them), drawn with a fixed seed that no training run uses, and kept out of
 * all training data by their keys. Written as JSONL, one object per line:
 * {@code {"id", "class", "difficulty", "prompt", "expected"}} where prompt is the user turn without a mode
 * suffix (evaluators append " /no_think" or " /auto_think") and expected is the exact final answer.
 */
public final class HeldOut {
    public static final long SEED = 4242;
    private static final ObjectMapper JSON = new ObjectMapper();

    private HeldOut() {
    }

    /** Distinct problems of every class in {@link Tasks#CLASSES}, {@link #count} of each, in class order. */
    public static List<Problem> problems(int perClass) {
        SplittableRandom r = new SplittableRandom(SEED);
        List<Problem> out = new ArrayList<>();
        for (String cls : Tasks.CLASSES) {
            Set<String> seen = new HashSet<>();
            int n = count(cls, perClass);
            for (int tries = 0; seen.size() < n && tries < n * 100; tries++) {
                Problem p = Tasks.generate(cls, r);
                if (seen.add(p.key())) out.add(p);
            }
        }
        return out;
    }

    /** How many problems of the class a set with {@code perClass} per hard class holds: as many easy as hard in all. */
    public static int count(String cls, int perClass) {
        if (!Tasks.easy(cls)) return perClass;
        long easy = Tasks.CLASSES.stream().filter(Tasks::easy).count();
        return (int) (perClass * (Tasks.CLASSES.size() - easy) / easy);
    }

    public static Set<String> keys(List<Problem> ps) {
        Set<String> s = new LinkedHashSet<>();
        for (Problem p : ps) s.add(p.key());
        return s;
    }

    public static void write(Path file, List<Problem> ps) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        StringBuilder sb = new StringBuilder();
        int i = 0;
        for (Problem p : ps) {
            ObjectNode n = JSON.createObjectNode();
            n.put("id", p.cls() + "-" + (i++));
            n.put("class", p.cls());
            n.put("difficulty", p.difficulty());
            n.put("prompt", p.question());
            n.put("expected", p.answer());
            sb.append(JSON.writeValueAsString(n)).append('\n');
        }
        Files.writeString(file, sb.toString());
    }

    /** One evaluation item read back. */
    public record Item(String id, String cls, String difficulty, String prompt, String expected) {
    }

    public static List<Item> read(Path file) {
        List<Item> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new MogeException(file + ": cannot read (" + e.getMessage() + ")");
        }
        int no = 0;
        for (String line : lines) {
            no++;
            if (line.isBlank()) continue;
            try {
                JsonNode n = JSON.readTree(line);
                String prompt = n.path("prompt").asText(null), expected = n.path("expected").asText(null);
                if (prompt == null || expected == null) throw new MogeException(file + ":" + no + ": needs 'prompt' and 'expected'");
                out.add(new Item(n.path("id").asText("item-" + no), n.path("class").asText("all"),
                        n.path("difficulty").asText("unknown"), prompt, expected));
            } catch (IOException e) {
                throw new MogeException(file + ":" + no + ": not a JSON object");
            }
        }
        return out;
    }
}
