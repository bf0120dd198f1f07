package moge.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of worker threads that spin briefly on a sequence number and then park, so that handing a
 * kernel to the team costs about a microsecond instead of the tens of microseconds of an executor
 * (see shared/KERNELS.md). The calling thread is member 0 and works on every job.
 * <p>
 * Work is claimed in pieces (aligned row chunks, or items) from a counter that carries the job's generation,
 * so a member that is late (descheduled on a busy machine, or still waking up) simply finds nothing left:
 * the caller never waits for a thread that has not started, only for pieces already being run. A range's
 * pieces shrink as it runs out, so that wait is short: with eight equal pieces, the team spent 7% of a
 * pangu-embedded Q4_0 decode's samples waiting at the ends of jobs (BENCHMARKS section 2). Which member
 * runs a piece never changes what the piece computes, so results do not depend on the thread count.
 * A job started from inside a job runs on the calling thread alone, so kernels may call each other freely.
 */
public final class Parallel implements AutoCloseable {
    /** A slice of a row range: [start, end). */
    @FunctionalInterface
    public interface Range {
        void run(int start, int end);
    }

    /** One item of a job, told which team member runs it (for per-thread scratch). */
    @FunctionalInterface
    public interface Item {
        void run(int item, int member);
    }

    private static final long SPIN_NANOS = 200_000;
    /**
     * A range job's pieces shrink as the range runs out: each takes this fraction (1 / (SHARE * threads)) of the
     * units not yet handed out, at least one. Large first pieces keep rows together (long streams for the
     * prefetcher); the small last ones mean the team finishes nearly together.
     */
    private static final int SHARE = 2;

    private final int threads;
    private final Thread[] workers;
    /** 1 while a worker is parked (or about to park), so that only sleeping workers are unparked. */
    private final AtomicIntegerArray sleeping;
    private volatile boolean closed;
    private volatile Thread owner;

    /** (generation << 32) | next piece; members claim a piece with a CAS that also checks the generation. */
    private final AtomicLong claim = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job;
    private volatile Throwable failure;

    private record Job(long generation, int pieces, Range range, int total, int align, int[] bounds, Item item) {
    }

    public Parallel(int threads) {
        this(threads, "moge");
    }

    public Parallel(int threads, String name) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        this.sleeping = new AtomicIntegerArray(workers.length);
        for (int i = 0; i < workers.length; i++) {
            final int member = i + 1;
            Thread t = new Thread(() -> workLoop(member), name + "-worker-" + member);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Below this many multiply-adds a job runs on the calling thread: handing it to the team (about a
     * microsecond, more when a member has to be woken) would cost as much as the work. Matters for small
     * models, whose every product is this small (the 4 MB demo decoded 25% slower on 2 threads than on 1).
     */
    public static final long INLINE_COST = 1L << 18;

    /** Splits [0, total) into contiguous pieces whose bounds are multiples of {@code align}. */
    public void forRange(int total, int align, Range job) {
        forRange(total, align, Long.MAX_VALUE, job);
    }

    /** As {@link #forRange(int, int, Range)}, on the calling thread alone when {@code cost} (multiply-adds) is below {@link #INLINE_COST}. */
    public void forRange(int total, int align, long cost, Range job) {
        if (total <= 0) return;
        align = Math.max(1, align);
        if (threads == 1 || total <= align || cost < INLINE_COST || inline()) {
            job.run(0, total);
            return;
        }
        int[] bounds = pieces((total + align - 1) / align, threads);
        synchronized (this) {
            run(bounds.length - 1, job, total, align, bounds, null);
        }
    }

    /** Runs items 0..count-1, each taken by whichever member is free next. */
    public void forEach(int count, Item job) {
        forEach(count, Long.MAX_VALUE, job);
    }

    /** As {@link #forEach(int, Item)}, on the calling thread alone when {@code cost} (multiply-adds) is below {@link #INLINE_COST}. */
    public void forEach(int count, long cost, Item job) {
        if (count <= 0) return;
        if (threads == 1 || count == 1 || cost < INLINE_COST || inline()) {
            for (int i = 0; i < count; i++) job.run(i, 0);
            return;
        }
        synchronized (this) {
            run(count, null, 0, 0, null, job);
        }
    }

    private boolean inline() {
        Thread me = Thread.currentThread();
        if (me == owner) return true;
        for (Thread w : workers) if (w == me) return true;
        return false;
    }

    /** Bounds of the pieces of {@code units} units, in units: piece p is [bounds[p], bounds[p + 1]). */
    static int[] pieces(int units, int threads) {
        int count = 0;
        for (int at = 0; at < units; count++) at += step(units - at, threads);
        int[] bounds = new int[count + 1];
        for (int p = 0; p < count; p++) bounds[p + 1] = bounds[p] + step(units - bounds[p], threads);
        return bounds;
    }

    private static int step(int left, int threads) {
        return Math.max(1, left / (SHARE * threads));
    }

    private void run(int pieces, Range range, int total, int align, int[] bounds, Item item) {
        owner = Thread.currentThread();
        failure = null;
        long gen = (claim.get() >>> 32) + 1;
        Job j = new Job(gen, pieces, range, total, align, bounds, item);
        done.set(0);
        claim.set(gen << 32);
        job = j;
        for (int i = 0; i < workers.length; i++) {
            if (sleeping.get(i) != 0) LockSupport.unpark(workers[i]);
        }
        work(j, 0);
        int spins = 0;
        while (done.get() != pieces) {
            // a member holding a piece may have lost its core to another process: give it ours
            if (++spins > 2000) Thread.yield(); else Thread.onSpinWait();
        }
        owner = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error er) throw er;
            throw new RuntimeException(f);
        }
    }

    private void work(Job j, int member) {
        long base = j.generation << 32;
        while (true) {
            long c = claim.get();
            if ((c & ~0xFFFFFFFFL) != base) return;
            int p = (int) c;
            if (p >= j.pieces) return;
            if (!claim.compareAndSet(c, c + 1)) continue;
            try {
                if (j.range != null) {
                    int from = j.bounds[p] * j.align;
                    int to = Math.min(j.total, j.bounds[p + 1] * j.align);
                    if (from < to) j.range.run(from, to);
                } else {
                    j.item.run(p, member);
                }
            } catch (Throwable t) {
                failure = t;
            }
            done.incrementAndGet();
        }
    }

    private void workLoop(int member) {
        long seen = 0;
        while (true) {
            long start = System.nanoTime();
            int spins = 0;
            Job j;
            while ((j = job) == null || j.generation == seen) {
                if (closed) return;
                Thread.onSpinWait();
                if ((++spins & 1023) == 0 && System.nanoTime() - start > SPIN_NANOS) {
                    sleeping.set(member - 1, 1);
                    // re-check after announcing sleep, so a job published meanwhile is not missed
                    Job k = job;
                    if ((k == null || k.generation == seen) && !closed) LockSupport.parkNanos(50_000_000L);
                    sleeping.set(member - 1, 0);
                    start = System.nanoTime();
                }
            }
            seen = j.generation;
            work(j, member);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
