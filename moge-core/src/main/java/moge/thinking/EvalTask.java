package moge.thinking;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One labelled evaluation prompt. Task files are JSON Lines, one object per line:
 * {@code {"prompt": "...", "answer": "...", "difficulty": "easy"}} with optional {@code "class"}, {@code "system"} and
 * {@code "id"}; the demo model's held-out set ({@code eval/heldout.jsonl}, written by moge train) has
 * {@code {"id", "class", "difficulty", "prompt", "expected"}}. {@code answer} (or {@code expected}) may be a string or
 * a number; {@code difficulty} (default "all") and {@code class} (default: the difficulty) name the groups results
 * are broken down by. The prompt is the user turn without any mode switch. Blank lines are skipped.
 */
public record EvalTask(String id, String system, String prompt, String answer, String difficulty, String cls) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static List<EvalTask> load(Path file) {
        List<EvalTask> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int no = 0;
            while ((line = in.readLine()) != null) {
                no++;
                if (line.isBlank()) continue;
                out.add(parse(line, file + ":" + no, String.valueOf(out.size() + 1)));
            }
        } catch (IOException e) {
            throw new MogeException(file + ": cannot read task file: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new MogeException(file + ": no tasks (expected JSON Lines with prompt, answer, difficulty)");
        return out;
    }

    static EvalTask parse(String line, String where, String defaultId) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new MogeException(where + ": not a JSON object: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) throw new MogeException(where + ": not a JSON object");
        String prompt = text(n, where, true, "prompt");
        String answer = text(n, where, true, "answer", "expected");
        String difficulty = text(n, where, false, "difficulty", "level");
        String cls = text(n, where, false, "class");
        String system = text(n, where, false, "system");
        String id = text(n, where, false, "id");
        if (difficulty == null) difficulty = cls != null ? cls : "all";
        return new EvalTask(id != null ? id : defaultId, system, prompt, answer, difficulty, cls != null ? cls : difficulty);
    }

    private static String text(JsonNode n, String where, boolean required, String... names) {
        for (String name : names) {
            JsonNode v = n.get(name);
            if (v == null || v.isNull()) continue;
            if (v.isTextual() || v.isNumber() || v.isBoolean()) return v.asText();
            throw new MogeException(where + ": field '" + name + "' must be a string or a number");
        }
        if (required) throw new MogeException(where + ": missing field '" + names[0] + "'");
        return null;
    }
}
