package dev.specula.server;

import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
import dev.specula.sampling.Sampler;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.Tokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The decoding thread: continuous batching over a fixed set of slots. Between steps, finished
 * and cancelled requests leave their slots and queued ones take the free slots (the one whose
 * cache shares the longest prefix with the prompt first). Each step is then ONE batched target
 * pass ({@link Transformer#forwardBatch}) over every busy slot: a token for each slot that is
 * generating and a prompt chunk for each slot still reading its prompt, at most {@code batch}
 * rows in all.
 *
 * <p>With a draft (speculative slots), a step is one speculative round for every busy slot: the
 * slots' drafts propose one after another (the draft model runs a token at a time per slot),
 * then ONE target pass ({@link Transformer#forwardBatchAllLogits}) verifies every slot's
 * proposals, and each slot accepts its share. A slot that joins evaluates its whole prompt in
 * the step it joins (the others wait for it).
 *
 * <p>Requests beyond the slots wait in a queue of at most {@code queueLimit}; past that,
 * {@link #submit} refuses with a 503. An exception while serving a request fails that request
 * only; the thread and the other slots go on.
 */
final class SlotScheduler implements AutoCloseable {
    private final Transformer model;
    private final Tokenizer tokenizer;
    private final Slot[] slots;
    private final int batch;
    private final int queueLimit;
    private final SlotDrafts drafts;
    private final SpeculativeDecoder.Options draftOptions;
    final ServerStats stats;
    /** Share of a prompt a slot's cache must already hold for the prompt to go there rather than to the least recently used slot. */
    static final double REUSE_SHARE = 0.5;
    /** Requests admitted so far: the clock of {@link Slot#lastUsed}. */
    private long admissions;
    /** The vocabulary's end-of-generation tokens (what ignore_eos masks). */
    private final int[] endTokens;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Job> waiting = new ArrayDeque<>();
    /** Busy slots, read by /health and /metrics (written under the lock). */
    private volatile int busy;
    private volatile boolean running = true;
    private final Thread thread;

    SlotScheduler(Transformer model, Tokenizer tokenizer, int slotCount, int slotContext, KvCache.Precision precision, int batch,
                  int queueLimit, SlotDrafts drafts, SpeculativeDecoder.Options draftOptions, ServerStats stats) {
        if (slotCount < 1) throw new IllegalArgumentException("-np must be at least 1, got " + slotCount);
        if (queueLimit < 0) throw new IllegalArgumentException("the queue size must be at least 0, got " + queueLimit);
        this.model = model;
        this.tokenizer = tokenizer;
        this.batch = batch;
        this.queueLimit = queueLimit;
        this.drafts = drafts;
        this.draftOptions = draftOptions;
        this.stats = stats;
        this.endTokens = java.util.stream.IntStream.range(0, tokenizer.vocabulary().size())
                .filter(tokenizer.vocabulary()::isEndOfGeneration).toArray();
        slots = new Slot[slotCount];
        try {
            for (int i = 0; i < slotCount; i++) slots[i] = new Slot(i, model.newCache(slotContext, precision), tokenizer);
        } catch (RuntimeException | OutOfMemoryError e) {
            for (Slot s : slots) if (s != null) s.cache.close();
            throw e;
        }
        thread = Thread.ofPlatform().name("specula-slots").daemon().start(this::loop);
    }

    boolean speculative() {
        return drafts != null;
    }

    int slotCount() {
        return slots.length;
    }

    int busySlots() {
        return busy;
    }

    int queued() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** Queues a request; a 503 when every slot is busy and the queue is full. */
    Job submit(CompletionRequest r) {
        Job j = new Job(r);
        lock.lock();
        try {
            if (!running) throw ApiError.unavailable("the server is shutting down");
            if (busy + waiting.size() >= slots.length + queueLimit) {
                stats.rejected.increment();
                throw ApiError.unavailable("all " + slots.length + " slots are busy and " + waiting.size()
                        + " requests are queued (the most: --queue " + queueLimit + "); try again later");
            }
            waiting.add(j);
            work.signal();
        } finally {
            lock.unlock();
        }
        return j;
    }

    private void loop() {
        while (running) {
            List<Slot> active;
            try {
                active = admit();
            } catch (InterruptedException e) {
                return;
            }
            if (active == null) return;
            try {
                if (drafts == null) batchedStep(active);
                else speculativeStep(active);
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                // A failure outside any one request's handling (a bug): fail those in flight, keep serving.
                for (Slot s : active) fail(s, e);
            }
        }
    }

    /**
     * Frees the slots of finished and cancelled requests, gives free slots to waiting requests
     * and returns the busy slots; waits while there are none. Null once closed.
     */
    private List<Slot> admit() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                for (Slot s : slots) {
                    if (s.free()) continue;
                    if (s.finished()) release(s, true);
                    else if (s.job.cancelled()) {
                        stats.cancelled.increment();
                        release(s, false);
                    }
                }
                int queued = waiting.size();
                if (waiting.removeIf(Job::cancelled)) stats.cancelled.add(queued - waiting.size()); // their clients left
                while (!waiting.isEmpty()) {
                    Job j = waiting.peek();
                    Slot s = bestFreeSlot(j.request.prompt());
                    if (s == null) break;
                    waiting.poll();
                    start(s, j);
                }
                List<Slot> active = new ArrayList<>();
                for (Slot s : slots) if (!s.free()) active.add(s);
                busy = active.size();
                if (!running) return null;
                if (!active.isEmpty()) return active;
                work.await();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The free slot for a prompt: the one whose cache shares the longest prefix with it, when that
     * covers at least {@link #REUSE_SHARE} of the prompt (as llama.cpp's slot similarity); else
     * the least recently used one, so that a cache worth keeping is not lost for a token or two.
     */
    private Slot bestFreeSlot(int[] prompt) {
        Slot best = null, oldest = null;
        int bestKeep = -1;
        for (Slot s : slots) {
            if (!s.free()) continue;
            int keep = s.reusable(prompt);
            if (keep > bestKeep) {
                best = s;
                bestKeep = keep;
            }
            if (oldest == null || s.lastUsed < oldest.lastUsed) oldest = s;
        }
        return best == null || bestKeep >= REUSE_SHARE * prompt.length ? best : oldest;
    }

    private void start(Slot s, Job j) {
        s.lastUsed = ++admissions;
        try {
            Sampler sampler = new Sampler(j.request.sampling());
            SpeculativeDecoder spec = drafts == null ? null
                    : new SpeculativeDecoder(model, s.cache, batch, drafts.open(s.index, j.request.sampling()), draftOptions);
            s.start(j, sampler, spec);
        } catch (RuntimeException e) {
            s.job = j;
            fail(s, e);
        }
    }

    private void release(Slot s, boolean completed) {
        if (completed) stats.completed.increment();
        stats.predictedTokens.add(s.generated());
        s.release();
    }

    /** One target pass for every busy slot: a token each for those generating, prompt chunks for the rest. */
    private void batchedStep(List<Slot> active) {
        List<Slot> in = new ArrayList<>(active.size());
        List<int[]> rows = new ArrayList<>(active.size());
        int budget = batch;
        for (Slot s : active) {
            if (s.prefilling()) continue;
            if (s.pendingToken < 0) continue; // finished
            in.add(s);
            rows.add(new int[] {s.pendingToken});
            budget--;
        }
        for (Slot s : active) {
            if (!s.prefilling() || budget <= 0) continue;
            int[] chunk = s.takePrompt(budget);
            budget -= chunk.length;
            in.add(s);
            rows.add(chunk);
        }
        if (in.isEmpty()) return;
        long t0 = System.nanoTime();
        stats.steps.increment();
        float[][] logits;
        try {
            logits = model.forwardBatch(rows.toArray(int[][]::new), in.stream().map(s -> s.cache).toArray(KvCache[]::new));
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            logits = isolate(in, rows);
        }
        long nanos = System.nanoTime() - t0;
        int promptRows = 0, allRows = 0;
        for (int i = 0; i < in.size(); i++) {
            allRows += rows.get(i).length;
            if (in.get(i).pendingToken < 0) promptRows += rows.get(i).length;
        }
        stats.promptTokens.add(promptRows);
        stats.promptNanos.add(nanos * promptRows / allRows);
        stats.predictedNanos.add(nanos - nanos * promptRows / allRows);
        for (int i = 0; i < in.size(); i++) {
            Slot s = in.get(i);
            if (logits[i] == null) continue; // failed alone too
            s.fed(rows.get(i));
            s.pendingToken = -1;
            if (!s.prefilling()) sampleFrom(s, logits[i]);
        }
    }

    /**
     * After a failed batched pass: runs each slot's rows alone, so that only the request at fault
     * fails (its row of the result is null) and the others keep their step.
     */
    private float[][] isolate(List<Slot> in, List<int[]> rows) {
        float[][] logits = new float[in.size()][];
        for (int i = 0; i < in.size(); i++) {
            Slot s = in.get(i);
            s.truncate(s.heldLength()); // a pass that failed late may have extended the cache
            try {
                logits[i] = model.forwardBatch(new int[][] {rows.get(i)}, new KvCache[] {s.cache})[0];
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                s.truncate(s.heldLength());
                fail(s, e);
            }
        }
        return logits;
    }

    /** Samples the slot's next token from {@code logits} and hands it on; a failure fails this request only. */
    private void sampleFrom(Slot s, float[] logits) {
        try {
            if (!s.wantsToken()) {
                s.finish("limit", null);
                return;
            }
            int token = s.sampler.sample(s.job.request.ignoreEos() ? withoutEnd(logits) : logits);
            s.sampler.accept(token);
            if (s.accept(token, logits)) return;
            // As the plain generator: a token that would not fit the context ends the request.
            if (s.heldLength() >= s.cache.capacity()) s.finish("limit", null);
            else s.pendingToken = token;
        } catch (RuntimeException e) {
            fail(s, e);
        }
    }

    /** A copy of the logits in which no end-of-generation token can be chosen (ignore_eos). */
    private float[] withoutEnd(float[] logits) {
        float[] l = logits.clone();
        for (int id : endTokens) if (id < l.length) l[id] = Float.NEGATIVE_INFINITY;
        return l;
    }

    /**
     * One speculative round for every busy slot, verified together: each slot's draft proposes,
     * then ONE target pass evaluates every slot's [last token, proposals] (all positions' logits),
     * then each slot accepts its share. A slot that just started evaluates its prompt instead.
     */
    private void speculativeStep(List<Slot> active) {
        long t0 = System.nanoTime();
        List<Slot> in = new ArrayList<>(active.size());
        List<SpeculativeDecoder.Proposal> proposals = new ArrayList<>(active.size());
        for (Slot s : active) {
            try {
                SpeculativeDecoder d = s.speculative;
                if (s.prefilling()) {
                    long p0 = System.nanoTime();
                    d.setSequence(s.job.request.prompt());
                    s.promptDone();
                    stats.promptTokens.add(d.promptTokens());
                    stats.promptNanos.add(System.nanoTime() - p0);
                    t0 += System.nanoTime() - p0;
                    if (!s.wantsToken()) s.finish("limit", null);
                    continue;
                }
                SpeculativeDecoder.Proposal p = d.cache().length() >= d.cache().capacity() ? null : d.propose(s.budget());
                if (p == null) {
                    s.finish("limit", null);
                    continue;
                }
                in.add(s);
                proposals.add(p);
            } catch (RuntimeException | StackOverflowError e) {
                fail(s, e);
            }
        }
        if (in.isEmpty()) return;
        stats.steps.increment();
        long v0 = System.nanoTime();
        float[][][] rows;
        try {
            rows = model.forwardBatchAllLogits(proposals.stream().map(SpeculativeDecoder.Proposal::batch).toArray(int[][]::new),
                    in.stream().map(s -> s.cache).toArray(KvCache[]::new));
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            rows = verifyAlone(in, proposals);
        }
        long share = (System.nanoTime() - v0) / in.size();
        for (int i = 0; i < in.size(); i++) {
            Slot s = in.get(i);
            if (rows[i] == null) continue; // failed alone too
            SpeculativeDecoder d = s.speculative;
            try {
                long draftN = d.draftN, accepted = d.draftAccepted;
                d.verify(proposals.get(i), rows[i], share, s.sampler, tokenizer.vocabulary()::isEndOfGeneration, token -> s.accept(token, null));
                stats.rounds.increment();
                stats.draftN.add(d.draftN - draftN);
                stats.draftAccepted.add(d.draftAccepted - accepted);
                if (!s.finished() && d.cache().length() >= d.cache().capacity()) s.finish("limit", null);
            } catch (RuntimeException | StackOverflowError e) {
                fail(s, e);
            }
        }
        stats.predictedNanos.add(System.nanoTime() - t0);
    }

    /** After a failed verification pass: each slot's batch alone, so that only the request at fault fails (null row). */
    private float[][][] verifyAlone(List<Slot> in, List<SpeculativeDecoder.Proposal> proposals) {
        float[][][] rows = new float[in.size()][][];
        for (int i = 0; i < in.size(); i++) {
            Slot s = in.get(i);
            int held = s.speculative.sequence().length - 1; // the decoder's cache holds all but the last token
            s.cache.truncate(Math.min(s.cache.length(), held));
            try {
                rows[i] = model.forward(proposals.get(i).batch(), s.cache, true);
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                s.cache.truncate(Math.min(s.cache.length(), held));
                fail(s, e);
            }
        }
        return rows;
    }

    private void fail(Slot s, Throwable e) {
        if (s.job == null) return;
        stats.failed.increment();
        stats.predictedTokens.add(s.generated());
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        s.job.events.add(new Job.Failed(ApiError.internal("slot " + s.index + ": " + why)));
        lock.lock();
        try {
            s.truncate(s.heldLength());
            s.release();
        } finally {
            lock.unlock();
        }
    }

    /** Stops the thread; requests still waiting or running fail with a 503. */
    @Override
    public void close() {
        lock.lock();
        try {
            running = false;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lock.lock();
        try {
            for (Job j : waiting) j.events.add(new Job.Failed(ApiError.unavailable("the server is shutting down")));
            waiting.clear();
            boolean stopped = !thread.isAlive();
            for (Slot s : slots) {
                if (!s.free()) s.job.events.add(new Job.Failed(ApiError.unavailable("the server is shutting down")));
                if (stopped) s.cache.close(); // else a step is still using it (device memory must outlive it)
            }
        } finally {
            lock.unlock();
        }
    }
}
