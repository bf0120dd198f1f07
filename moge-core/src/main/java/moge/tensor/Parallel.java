package moge.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of worker threads that spin briefly on a sequence number and then park, so that handing a
 * kernel to the team costs about a microsecond instead of the tens of microseconds of an executor
 * (see shared/KERNELS.md). The calling thread is member 0 and does its share of every job. A job started
 * from inside a job runs on the calling thread alone, so kernels may call each other freely.
 */
public final class Parallel implements AutoCloseable {
    /** A slice of a row range: [start, end). */
    @FunctionalInterface
    public interface Range {
        void run(int start, int end);
    }

    /** One item of a dynamically scheduled job, told which team member runs it (for per-thread scratch). */
    @FunctionalInterface
    public interface Item {
        void run(int item, int member);
    }

    private static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Thread[] workers;
    private volatile long generation;
    private volatile boolean closed;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicInteger nextItem = new AtomicInteger();
    private volatile Throwable failure;
    private volatile Thread owner;

    // the current job, published before generation is bumped
    private Range rangeJob;
    private Item itemJob;
    private int jobSize;
    private int jobAlign;

    public Parallel(int threads) {
        this(threads, "moge");
    }

    public Parallel(int threads, String name) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
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

    /** Splits [0, total) into one contiguous slice per member, slice bounds multiples of {@code align}. */
    public void forRange(int total, int align, Range job) {
        if (total <= 0) return;
        if (threads == 1 || Thread.currentThread() == owner || total <= align || isWorker()) {
            job.run(0, total);
            return;
        }
        synchronized (this) {
            rangeJob = job;
            itemJob = null;
            jobSize = total;
            jobAlign = Math.max(1, align);
            runJob();
        }
    }

    /** Runs items 0..count-1, each taken by whichever member is free next. */
    public void forEach(int count, Item job) {
        if (count <= 0) return;
        if (threads == 1 || Thread.currentThread() == owner || count == 1 || isWorker()) {
            for (int i = 0; i < count; i++) job.run(i, 0);
            return;
        }
        synchronized (this) {
            rangeJob = null;
            itemJob = job;
            jobSize = count;
            nextItem.set(0);
            runJob();
        }
    }

    private boolean isWorker() {
        Thread me = Thread.currentThread();
        for (Thread w : workers) if (w == me) return true;
        return false;
    }

    private void runJob() {
        owner = Thread.currentThread();
        failure = null;
        pending.set(threads - 1);
        generation++;
        // Unparking a running thread only leaves it a permit, which is cheaper than tracking who sleeps.
        for (Thread w : workers) LockSupport.unpark(w);
        try {
            doShare(0);
        } catch (Throwable t) {
            failure = t;
        }
        while (pending.get() != 0) Thread.onSpinWait();
        owner = null;
        Throwable f = failure;
        if (f != null) {
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error er) throw er;
            throw new RuntimeException(f);
        }
    }

    private void doShare(int member) {
        if (rangeJob != null) {
            int total = jobSize, align = jobAlign;
            int units = (total + align - 1) / align;
            int from = (int) ((long) units * member / threads) * align;
            int to = (int) Math.min(total, (long) units * (member + 1) / threads * align);
            if (member == threads - 1) to = total;
            if (from < to) rangeJob.run(from, to);
        } else {
            Item job = itemJob;
            int n = jobSize;
            for (int i; (i = nextItem.getAndIncrement()) < n; ) job.run(i, member);
        }
    }

    private void workLoop(int member) {
        long seen = 0;
        while (true) {
            long start = System.nanoTime();
            int spins = 0;
            while (generation == seen && !closed) {
                Thread.onSpinWait();
                if ((++spins & 1023) == 0 && System.nanoTime() - start > SPIN_NANOS) {
                    LockSupport.parkNanos(50_000_000L);
                    start = System.nanoTime();
                }
            }
            if (closed) return;
            seen = generation;
            try {
                doShare(member);
            } catch (Throwable t) {
                failure = t;
            }
            pending.decrementAndGet();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
