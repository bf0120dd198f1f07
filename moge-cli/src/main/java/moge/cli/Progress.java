package moge.cli;

import java.io.PrintWriter;

/** A one-line progress bar on stderr for long work (loading, converting, writing). */
final class Progress {
    private final PrintWriter err;
    private final String label;
    private final long total;
    private final long start = System.nanoTime();
    private long lastPrint;

    Progress(PrintWriter err, String label, long total) {
        this.err = err;
        this.label = label;
        this.total = Math.max(1, total);
    }

    void update(long done) {
        long now = System.nanoTime();
        if (now - lastPrint < 200_000_000L && done < total) return;
        lastPrint = now;
        int pct = (int) Math.min(100, done * 100 / total);
        int width = 30, fill = pct * width / 100;
        double secs = (now - start) / 1e9;
        err.printf("\r%s [%s%s] %3d%% %.1fs", label, "#".repeat(fill), ".".repeat(width - fill), pct, secs);
        err.flush();
    }

    void done() {
        update(total);
        err.println();
        err.flush();
    }
}
