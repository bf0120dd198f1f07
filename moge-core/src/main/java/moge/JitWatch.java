package moge;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * Tells when the JIT has gone quiet, for warm-ups that should end once the kernels are compiled rather than after
 * a fixed time (a small model's passes are too short for C2 to finish within seconds). Fed once per unit of work.
 */
public final class JitWatch {
    private final CompilationMXBean jit;
    private long compiled;
    private long idleSince = System.nanoTime();

    public JitWatch() {
        CompilationMXBean j = ManagementFactory.getCompilationMXBean();
        this.jit = j != null && j.isCompilationTimeMonitoringSupported() ? j : null;
        this.compiled = jit != null ? jit.getTotalCompilationTime() : 0;
    }

    /** Whether no compilation has finished for {@code nanos}; always true when the JVM cannot tell. */
    public boolean idleFor(long nanos) {
        if (jit == null) return true;
        long now = System.nanoTime(), c = jit.getTotalCompilationTime();
        if (c != compiled) {
            compiled = c;
            idleSince = now;
            return false;
        }
        return now - idleSince >= nanos;
    }
}
