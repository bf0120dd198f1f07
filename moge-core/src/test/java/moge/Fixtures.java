package moge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The shared reference fixtures (copied from shared/fixtures into testdata/fixtures). */
public final class Fixtures {
    public static final Path ROOT = locate();

    private Fixtures() {
    }

    private static Path locate() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path f = p.resolve("testdata/fixtures");
            if (Files.isDirectory(f)) return f;
        }
        throw new IllegalStateException("testdata/fixtures not found above " + Path.of("").toAbsolutePath());
    }

    public static Path model(String name) {
        return ROOT.resolve(name);
    }

    public static List<Path> expectedFiles() {
        try (Stream<Path> s = Files.list(ROOT.resolve("expected"))) {
            return s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode read(Path p) {
        try {
            return new ObjectMapper().readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asInt();
        return out;
    }
}
