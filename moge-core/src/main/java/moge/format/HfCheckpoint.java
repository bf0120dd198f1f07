package moge.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A Hugging Face model directory: config.json plus one model.safetensors or shards listed in
 * model.safetensors.index.json. All shards are mapped into one arena that lives as long as this object.
 */
public final class HfCheckpoint implements TensorSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final Arena arena;
    private final Map<String, TensorData> tensors;
    private final JsonNode config;

    private HfCheckpoint(Path dir, Arena arena, Map<String, TensorData> tensors, JsonNode config) {
        this.dir = dir;
        this.arena = arena;
        this.tensors = tensors;
        this.config = config;
    }

    public static boolean looksLike(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve("config.json"));
    }

    public static HfCheckpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new MogeException(dir + ": not a model directory");
        JsonNode config = readJson(dir.resolve("config.json"));
        Arena arena = Arena.ofShared();
        try {
            Map<String, TensorData> all = new LinkedHashMap<>();
            Path index = dir.resolve("model.safetensors.index.json");
            if (Files.isRegularFile(index)) {
                JsonNode map = readJson(index).path("weight_map");
                if (!map.isObject() || map.isEmpty()) throw new MogeException(index + ": no weight_map");
                Map<String, Map<String, TensorData>> shards = new HashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                    var e = it.next();
                    String shardName = e.getValue().asText();
                    Path shard = dir.resolve(shardName).normalize();
                    if (!shard.startsWith(dir.normalize())) throw new MogeException(index + ": shard path escapes the model directory: " + shardName);
                    if (!Files.isRegularFile(shard)) {
                        throw new MogeException(shard + ": missing shard (named in model.safetensors.index.json for " + e.getKey() + ")");
                    }
                    var inShard = shards.computeIfAbsent(shardName, s -> Safetensors.open(shard, arena));
                    TensorData t = inShard.get(e.getKey());
                    if (t == null) throw new MogeException(shard + ": has no tensor " + e.getKey() + " (the index says it should)");
                    all.put(e.getKey(), t);
                }
                // Tensors present in shards but absent from the index are still usable.
                shards.values().forEach(s -> s.forEach(all::putIfAbsent));
            } else {
                Path single = dir.resolve("model.safetensors");
                if (Files.isRegularFile(single)) {
                    all.putAll(Safetensors.open(single, arena));
                } else {
                    TreeSet<Path> files = new TreeSet<>();
                    try (Stream<Path> s = Files.list(dir)) {
                        s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).forEach(files::add);
                    }
                    if (files.isEmpty()) throw new MogeException(dir + ": no model.safetensors or model.safetensors.index.json");
                    for (Path f : files) all.putAll(Safetensors.open(f, arena));
                }
            }
            return new HfCheckpoint(dir, arena, Collections.unmodifiableMap(all), config);
        } catch (IOException e) {
            arena.close();
            throw new MogeException(dir + ": cannot list files (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) throw new MogeException(file + ": file not found");
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new MogeException(file + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw new MogeException(file + ": invalid JSON (" + jsonProblem(e) + ")");
        }
    }

    /** What is wrong with a JSON file, in one line for people: where and what, without the parser's source dump. */
    public static String jsonProblem(IOException e) {
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
            com.fasterxml.jackson.core.JsonLocation at = j.getLocation();
            String where = at != null && at.getLineNr() > 0 ? "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": " : "";
            return where + firstLine(j.getOriginalMessage());
        }
        return firstLine(e.getMessage());
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    public Path dir() {
        return dir;
    }

    public JsonNode config() {
        return config;
    }

    @Override
    public Map<String, TensorData> tensors() {
        return tensors;
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    @Override
    public void close() {
        arena.close();
    }
}
