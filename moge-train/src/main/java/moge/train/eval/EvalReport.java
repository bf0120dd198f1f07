package moge.train.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.model.LoadedModel;
import moge.model.ModelLoader;
import moge.train.data.ChatFormat;
import moge.train.data.HeldOut;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Held-out accuracy of a trained model directory in slow, fast and auto mode, written beside it. */
public final class EvalReport {
    private static final ObjectMapper JSON = new ObjectMapper();

    private EvalReport() {
    }

    /** The first {@link HeldOut#count} items of every class of the model's eval/heldout.jsonl (perClass of a hard class). */
    public static List<HeldOut.Item> items(Path modelDir, int perClass) {
        List<HeldOut.Item> all = HeldOut.read(modelDir.resolve("eval/heldout.jsonl"));
        Map<String, Integer> taken = new HashMap<>();
        List<HeldOut.Item> out = new ArrayList<>();
        for (HeldOut.Item it : all) {
            int n = taken.merge(it.cls(), 1, Integer::sum);
            if (n <= HeldOut.count(it.cls(), perClass)) out.add(it);
        }
        return out;
    }

    public static List<HeldOutEval.Cell> evaluate(Path modelDir, int perClass, int maxTokens, int threads) throws IOException {
        List<HeldOut.Item> items = items(modelDir, perClass);
        List<HeldOutEval.Output> outs;
        try (LoadedModel lm = ModelLoader.load(modelDir)) {
            outs = HeldOutEval.run(lm, items, List.of(ChatFormat.Mode.SLOW, ChatFormat.Mode.FAST, ChatFormat.Mode.AUTO), maxTokens, threads);
        }
        List<HeldOutEval.Cell> cells = HeldOutEval.table(outs);
        ObjectNode root = JSON.createObjectNode();
        root.put("items_per_class", perClass);
        ArrayNode rs = root.putArray("results");
        for (HeldOutEval.Cell c : cells) {
            ObjectNode n = rs.addObject();
            n.put("mode", c.mode().name().toLowerCase());
            n.put("class", c.cls());
            n.put("n", c.n());
            n.put("accuracy", c.accuracy());
            n.put("mean_tokens", c.meanTokens());
            n.put("think_rate", c.thinkRate());
        }
        Files.createDirectories(modelDir.resolve("eval"));
        JSON.writerWithDefaultPrettyPrinter().writeValue(modelDir.resolve("eval/results.json").toFile(), root);
        Files.writeString(modelDir.resolve("eval/results.md"), HeldOutEval.markdown(cells));
        return cells;
    }
}
