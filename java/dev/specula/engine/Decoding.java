package dev.specula.engine;

import dev.specula.sampling.Sampler;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

/**
 * One sequence being decoded: plain ({@link Generator}) or speculative. The CLI and the server
 * drive either through this, and read llama.cpp-style timings from it.
 */
public interface Decoding {
    /** Makes the sequence {@code tokens}, re-using the longest prefix already evaluated. */
    void setSequence(int[] tokens);

    /** The sequence so far: the last one set plus the generated tokens (an end token excluded). */
    int[] sequence();

    /**
     * Generates up to {@code maxTokens} tokens (-1: until the context is full), handing each to
     * {@code onToken}; stops after a token for which {@code isEnd} holds. Returns them.
     */
    int[] generate(Sampler sampler, int maxTokens, IntPredicate isEnd, IntConsumer onToken);

    KvCache cache();

    long promptTokens();

    long promptNanos();

    long generatedTokens();

    long generationNanos();
}
