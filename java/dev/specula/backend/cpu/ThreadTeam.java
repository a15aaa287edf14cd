package dev.specula.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of threads for the forward pass: the calling thread plus {@code size - 1} workers
 * that spin briefly between jobs and park when idle, as llama.cpp's thread pool does. A decode
 * step issues about a hundred short parallel loops (one per matrix), each a few tens of
 * microseconds long; handing each to a fork-join pool cost as much as the work itself, while a
 * spinning worker picks a job up within a fraction of a microsecond.
 *
 * <p>{@link #parallelFor} hands out chunks of an index range from a shared counter, so a worker
 * slowed by another process on the machine takes fewer chunks instead of holding everyone up.
 * Jobs run one at a time: a team belongs to one forward pass and is not reentrant.
 */
public final class ThreadTeam implements AutoCloseable {
    /** How long an idle worker spins before parking, in nanoseconds. */
    private static final long SPIN_NANOS = 200_000;

    /** The body of a parallel loop: handle indices {@code [from, to)} on worker {@code worker}. */
    @FunctionalInterface
    public interface Range {
        void run(int worker, int from, int to);
    }

    private final Thread[] workers;
    private final int size;
    private volatile boolean closed;
    /** Bumped once per job; workers run a job when they see a generation they have not run. */
    private volatile long generation;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger unfinished = new AtomicInteger();
    private volatile RuntimeException failure;
    private Range body;
    private int end, chunk;
    /** Per-thread scratch arrays, indexed by worker id (0 = the calling thread). */
    private final float[][] scratch;

    /** A team of {@code size} threads in all (the caller counts as one); 1 means no workers. */
    public ThreadTeam(int size) {
        if (size < 1) throw new IllegalArgumentException("threads: " + size);
        this.size = size;
        this.workers = new Thread[size - 1];
        this.scratch = new float[size][0];
        for (int i = 0; i < workers.length; i++) {
            int id = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("specula-worker-" + id).unstarted(() -> workLoop(id));
            workers[i].start();
        }
    }

    public int size() {
        return size;
    }

    /**
     * A scratch array of at least {@code length} floats private to {@code worker}, kept between
     * jobs so the hot loops allocate nothing. Its contents are undefined.
     */
    public float[] scratch(int worker, int length) {
        float[] s = scratch[worker];
        if (s.length < length) scratch[worker] = s = new float[length];
        return s;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in chunks of {@code chunk} indices (the last may be
     * shorter) spread over the team, and returns when all are done. Runs on the calling thread
     * alone when there is a single chunk or a single thread.
     */
    public void parallelFor(int n, int chunk, Range body) {
        if (n <= 0) return;
        if (size == 1 || n <= chunk) {
            body.run(0, 0, n);
            return;
        }
        if (closed) throw new IllegalStateException("thread team closed");
        this.body = body;
        this.end = n;
        this.chunk = chunk;
        this.failure = null;
        next.set(0);
        unfinished.set(workers.length);
        generation++; // publishes the fields above to the workers
        for (Thread w : workers) LockSupport.unpark(w);
        try {
            runChunks(0);
        } catch (RuntimeException | Error e) {
            next.set(end);
            throw e;
        } finally {
            while (unfinished.get() != 0) Thread.onSpinWait();
            this.body = null;
        }
        RuntimeException f = failure;
        if (f != null) throw f;
    }

    private void runChunks(int worker) {
        Range b = body;
        int n = end, c = chunk;
        for (int from = next.getAndAdd(c); from < n; from = next.getAndAdd(c)) {
            b.run(worker, from, Math.min(n, from + c));
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            while (generation == seen && !closed) {
                if (System.nanoTime() - spinStart < SPIN_NANOS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            try {
                runChunks(id);
            } catch (RuntimeException | Error e) {
                failure = e instanceof RuntimeException r ? r : new RuntimeException(e);
                next.set(end); // the others stop taking chunks
            } finally {
                unfinished.decrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
