package moge.cli;

import moge.MogeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A model directory a command writes (random-model, merge): never over another one unless --force says so. */
final class OutputDir {
    private OutputDir() {
    }

    /** Refuses a non-empty {@code out} without {@code force} (checked before any slow work). */
    static void requireFree(Path out, boolean force) {
        if (Files.exists(out) && !force && !isEmptyDirectory(out)) throw new MogeException(out + ": already exists (use --force to overwrite)");
    }

    /**
     * A model written over another keeps none of its weights: the loader reads an index before a single file,
     * and an old model's index and shards would be loaded against the new config.
     */
    static void removeOldWeights(Path out) {
        if (!Files.isDirectory(out)) return;
        try (var entries = Files.list(out)) {
            for (Path p : entries.toList()) {
                String n = p.getFileName().toString();
                if (n.endsWith(".safetensors") || n.equals("model.safetensors.index.json")) Files.delete(p);
            }
        } catch (IOException e) {
            throw new MogeException(out + ": cannot remove the old weights (" + e.getMessage() + ")");
        }
    }

    private static boolean isEmptyDirectory(Path p) {
        try (var entries = Files.list(p)) {
            return entries.findAny().isEmpty();
        } catch (IOException e) {
            return false; // a file, or unreadable: not an empty directory
        }
    }
}
