package dev.specula.engine;

import dev.specula.model.ModelConfig;

/**
 * A model's forward pass on one backend (the CPU reference, or a GPU holding the weights and the
 * KV cache). {@link Generator}, the speculative decoder and the benchmarks drive either through
 * this: a call takes a batch of tokens at consecutive positions (a prompt chunk, one decode token,
 * or a draft to verify), appends their keys and values to the cache and returns logits.
 *
 * <p>Caches come from {@link #newCache}: each backend keeps them where it computes (host arrays,
 * device memory). A transformer's calls must not overlap; closing it frees what it holds,
 * caches it made included.
 */
public interface Transformer extends AutoCloseable {
    ModelConfig config();

    /** An empty KV cache of {@code capacity} positions for this transformer. */
    KvCache newCache(int capacity, KvCache.Precision precision);

    /**
     * Runs {@code tokens} at positions {@code cache.length() ...} and returns the logits of every
     * position ({@code allLogits}) or only of the last one.
     */
    float[][] forward(int[] tokens, KvCache cache, boolean allLogits);

    /** Where it runs, as tables and messages name it: "CPU", "CUDA0". */
    String backendName();

    @Override
    void close();
}
