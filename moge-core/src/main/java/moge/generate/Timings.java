package moge.generate;

/** Prompt and generation counts and times, named like llama-server's "timings". */
public record Timings(int promptN, double promptMs, int predictedN, double predictedMs) {
    public double promptPerSecond() {
        return promptMs > 0 ? promptN * 1000.0 / promptMs : 0;
    }

    public double predictedPerSecond() {
        return predictedMs > 0 ? predictedN * 1000.0 / predictedMs : 0;
    }
}
