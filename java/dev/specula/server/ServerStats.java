package dev.specula.server;

import java.util.concurrent.atomic.LongAdder;

/** Counters the decoding thread and the HTTP threads update, read by /metrics and /health. */
final class ServerStats {
    final LongAdder completed = new LongAdder(), cancelled = new LongAdder(), failed = new LongAdder(),
            rejected = new LongAdder(), invalid = new LongAdder();
    final LongAdder promptTokens = new LongAdder(), predictedTokens = new LongAdder();
    final LongAdder promptNanos = new LongAdder(), predictedNanos = new LongAdder();
    final LongAdder draftN = new LongAdder(), draftAccepted = new LongAdder();
    /** Decoding steps: batched target passes, or speculative rounds. */
    final LongAdder steps = new LongAdder();
    /** Speculative rounds (one per slot per step): more than the steps when slots verify together. */
    final LongAdder rounds = new LongAdder();
}
