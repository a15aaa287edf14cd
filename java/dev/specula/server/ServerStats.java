package dev.specula.server;

import java.util.concurrent.atomic.LongAdder;

/** Counters the decoding thread and the HTTP threads update, read by /metrics and /health. */
final class ServerStats {
    final LongAdder completed = new LongAdder(), cancelled = new LongAdder(), failed = new LongAdder(),
            rejected = new LongAdder(), invalid = new LongAdder();
    final LongAdder promptTokens = new LongAdder(), predictedTokens = new LongAdder();
    final LongAdder promptNanos = new LongAdder(), predictedNanos = new LongAdder();
    final LongAdder draftN = new LongAdder(), draftAccepted = new LongAdder();
    /** Decoding steps (one batched target pass, or one speculative round per slot) and the time with any slot busy. */
    final LongAdder steps = new LongAdder(), busyNanos = new LongAdder();
}
