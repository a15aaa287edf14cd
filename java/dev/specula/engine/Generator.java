package dev.specula.engine;

import dev.specula.sampling.Sampler;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * Drives one sequence: feeds tokens into the model (prompts in batches, reusing whatever prefix
 * the KV cache already holds) and samples continuations, timing both phases as llama.cpp does.
 */
public final class Generator implements Decoding {
    private final Transformer model;
    private final KvCache cache;
    private final int batchSize;
    /** The tokens the cache holds, in history[0, historyLength); grown by doubling. */
    private int[] history = new int[0];
    private int historyLength;
    private float[] lastLogits;

    public long promptTokens, promptNanos, generatedTokens, generationNanos;

    public Generator(Transformer model, KvCache cache, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        this.model = model;
        this.cache = cache;
        this.batchSize = batchSize;
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    @Override
    public long promptTokens() {
        return promptTokens;
    }

    @Override
    public long promptNanos() {
        return promptNanos;
    }

    @Override
    public long generatedTokens() {
        return generatedTokens;
    }

    @Override
    public long generationNanos() {
        return generationNanos;
    }

    /** The tokens the cache holds, in order: the last sequence set plus the generated tokens fed back. */
    @Override
    public int[] sequence() {
        return Arrays.copyOf(history, historyLength);
    }

    /**
     * Makes the sequence equal to {@code tokens}: keeps the longest prefix already in the cache and
     * evaluates the rest in batches. At least the last token is always evaluated, for its logits.
     */
    @Override
    public void setSequence(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("empty prompt");
        if (tokens.length > cache.capacity()) {
            throw new IllegalArgumentException("prompt of " + tokens.length + " tokens does not fit the context of "
                    + cache.capacity() + " (raise -c)");
        }
        int keep = 0;
        while (keep < historyLength && keep < tokens.length - 1 && history[keep] == tokens[keep]) keep++;
        cache.truncate(Math.min(keep, cache.length()));
        long t0 = System.nanoTime();
        for (int at = cache.length(); at < tokens.length; at += batchSize) {
            int[] batch = Arrays.copyOfRange(tokens, at, Math.min(tokens.length, at + batchSize));
            lastLogits = model.forward(batch, cache, false)[0];
            promptTokens += batch.length;
        }
        promptNanos += System.nanoTime() - t0;
        history = tokens.clone();
        historyLength = tokens.length;
    }

    /**
     * Samples up to {@code maxTokens} tokens (-1: until the context is full), handing each to
     * {@code onToken}; stops after a token for which {@code isEnd} holds (it is not fed back).
     * Returns the generated ids.
     */
    @Override
    public int[] generate(Sampler sampler, int maxTokens, IntPredicate isEnd, java.util.function.IntConsumer onToken) {
        int[] out = new int[16];
        int n = 0;
        long t0 = System.nanoTime();
        while ((maxTokens < 0 || n < maxTokens)) {
            int token = sampler.sample(lastLogits);
            sampler.accept(token);
            if (n == out.length) out = Arrays.copyOf(out, n * 2);
            out[n++] = token;
            onToken.accept(token);
            generatedTokens++;
            if (isEnd.test(token) || cache.length() >= cache.capacity()) break;
            lastLogits = model.forward(new int[] {token}, cache, false)[0];
            if (historyLength == history.length) history = Arrays.copyOf(history, Math.max(16, historyLength * 2));
            history[historyLength++] = token;
        }
        generationNanos += System.nanoTime() - t0;
        return Arrays.copyOf(out, n);
    }
}
