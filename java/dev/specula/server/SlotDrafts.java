package dev.specula.server;

import dev.specula.sampling.SamplingParams;
import dev.specula.speculative.DraftSource;

/**
 * Where speculative slots get their drafts: one draft model shared by all slots, each with its
 * own KV cache, or prompt lookup. Everything runs on the server's decoding thread.
 */
public interface SlotDrafts extends AutoCloseable {
    /** The draft source for a request starting in slot {@code slot}, with the request's sampling settings. */
    DraftSource open(int slot, SamplingParams params);

    /** A short name for the log line ("draft model", "lookup"). */
    String describe();

    @Override
    void close();
}
