package moge.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The shared reference checkpoints (tokenizer side) and their expected outputs. */
public final class TokenizerFixtures {
    public static final Path ROOT = Path.of("../testdata/fixtures");
    public static final Path MOE_DIR = ROOT.resolve("pangu-moe-tiny");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static SentencePieceTokenizer moe;

    private TokenizerFixtures() {
    }

    /** The fixture tokenizer (all three checkpoints share the same files). */
    public static synchronized SentencePieceTokenizer tokenizer() {
        if (moe == null) moe = SentencePieceTokenizer.loadHf(MOE_DIR);
        return moe;
    }

    public static byte[] modelBytes() {
        try {
            return Files.readAllBytes(MOE_DIR.resolve("tokenizer.model"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One expected/*.json file. */
    public record Expected(String file, JsonNode json) {
        public String mode() {
            return json.path("prompt").path("mode").asText();
        }

        public Path modelDir() {
            return ROOT.resolve(json.path("model_dir").asText());
        }

        public int[] ids(String field) {
            return JSON.convertValue(json.get(field), int[].class);
        }

        public String prompt(String field) {
            JsonNode v = json.path("prompt").get(field);
            return v == null || v.isNull() ? null : v.asText();
        }

        @Override
        public String toString() {
            return file;
        }
    }

    public static List<Expected> expected() {
        try (Stream<Path> files = Files.list(ROOT.resolve("expected"))) {
            return files.filter(p -> p.toString().endsWith(".json")).sorted().map(p -> {
                try {
                    return new Expected(p.getFileName().toString(), JSON.readTree(p.toFile()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
