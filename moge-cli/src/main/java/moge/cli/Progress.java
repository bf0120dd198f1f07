package moge.cli;

import java.io.PrintWriter;
import java.util.function.LongSupplier;

/**
 * A progress bar on stderr for long work (loading, converting, writing): one line redrawn in place on a
 * terminal; elsewhere (a pipe, a log file) a plain line at each further 10% once a second has passed since the
 * last one, and the final line, so a log holds no carriage returns and a short job writes one line.
 */
final class Progress {
    private static final long LINE_GAP_NANOS = 1_000_000_000L;

    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean inPlace;
    private final LongSupplier clock;
    private final long start;
    private long lastPrint;
    private int lastPct = -1;

    Progress(PrintWriter err, String label, long total) {
        this(err, label, total, stderrIsTerminal(), System::nanoTime);
    }

    /** Java tells whether stdin/stdout are a terminal, not stderr: Linux says where fd 2 points. */
    static boolean stderrIsTerminal() {
        try {
            String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (java.io.IOException | UnsupportedOperationException | SecurityException e) {
            return ReasoningPrinter.stdoutIsTerminal();
        }
    }

    Progress(PrintWriter err, String label, long total, boolean inPlace, LongSupplier clock) {
        this.err = err;
        this.label = label;
        this.total = Math.max(1, total);
        this.inPlace = inPlace;
        this.clock = clock;
        this.start = clock.getAsLong();
        this.lastPrint = start;
    }

    void update(long done) {
        long now = clock.getAsLong();
        int pct = (int) Math.min(100, done * 100 / total);
        if (pct == lastPct) return;
        boolean show = inPlace ? now - lastPrint >= 200_000_000L || done >= total || lastPct < 0
                : done >= total || (pct / 10 > Math.max(lastPct, 0) / 10 && now - lastPrint >= LINE_GAP_NANOS);
        if (!show) return;
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
