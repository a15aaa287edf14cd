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

    /**
     * Runs several sequences in one step (the server's slots decoding together): sequence
     * {@code s} takes {@code tokens[s]} at positions {@code caches[s].length() ...} of its own
     * cache, and the result holds each sequence's last-position logits. The caches must be
     * distinct. The CPU runs every sequence's rows through each weight product at once; this
     * default runs the sequences one after another (what the GPU backend does for now).
     */
    default float[][] forwardBatch(int[][] tokens, KvCache[] caches) {
        if (tokens.length != caches.length) throw new IllegalArgumentException(tokens.length + " sequences but " + caches.length + " caches");
        float[][] out = new float[tokens.length][];
        for (int s = 0; s < tokens.length; s++) out[s] = forward(tokens[s], caches[s], false)[0];
        return out;
    }

    /**
     * As {@link #forwardBatch}, keeping every position's logits: {@code result[s][i]} are the
     * logits after {@code tokens[s][i]} (speculative verification of several sequences at once).
     */
    default float[][][] forwardBatchAllLogits(int[][] tokens, KvCache[] caches) {
        if (tokens.length != caches.length) throw new IllegalArgumentException(tokens.length + " sequences but " + caches.length + " caches");
        float[][][] out = new float[tokens.length][][];
        for (int s = 0; s < tokens.length; s++) out[s] = forward(tokens[s], caches[s], true);
        return out;
    }

    /** Where it runs, as tables and messages name it: "CPU", "CUDA0". */
    String backendName();

    @Override
    void close();
}
