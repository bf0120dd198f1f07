package moge.cli;

import java.io.PrintWriter;

/**
 * A progress bar on stderr for long work (loading, converting, writing): one line redrawn in place on a
 * terminal; elsewhere (a pipe, a log file) a plain line every 10%, so a log holds no carriage returns.
 */
final class Progress {
    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean inPlace;
    private final long start = System.nanoTime();
    private long lastPrint;
    private int lastPct = -1;

    Progress(PrintWriter err, String label, long total) {
        this(err, label, total, ReasoningPrinter.stdoutIsTerminal());
    }

    Progress(PrintWriter err, String label, long total, boolean inPlace) {
        this.err = err;
        this.label = label;
        this.total = Math.max(1, total);
        this.inPlace = inPlace;
    }

    void update(long done) {
        long now = System.nanoTime();
        int pct = (int) Math.min(100, done * 100 / total);
        if (inPlace ? now - lastPrint < 200_000_000L && done < total : pct / 10 == lastPct / 10 && lastPct >= 0) return;
        if (pct == lastPct) return;
        lastPrint = now;
        lastPct = pct;
        int width = 30, fill = pct * width / 100;
        double secs = (now - start) / 1e9;
        String bar = String.format("%s [%s%s] %3d%% %.1fs", label, "#".repeat(fill), ".".repeat(width - fill), pct, secs);
        if (inPlace) err.print("\r" + bar);
        else err.println(bar);
        err.flush();
    }

    void done() {
        update(total);
        if (inPlace) err.println();
        err.flush();
    }
}
