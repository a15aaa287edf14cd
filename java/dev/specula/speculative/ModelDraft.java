package dev.specula.speculative;

import dev.specula.engine.Transformer;
import dev.specula.engine.KvCache;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.sampling.TokenDistribution;
import java.util.Arrays;

/**
 * A small draft model proposing tokens one at a time. It keeps its own KV cache and, each round,
 * re-uses the longest prefix it shares with the target's sequence (so after a rejection it rolls
 * back to the accepted prefix and evaluates only what is new).
 *
 * <p>At temperature 0 it proposes its argmax; otherwise it draws from its own sampler chain (the
 * target's settings without penalties, its own seeded generator) and reports that distribution
 * as q. It stops early once its own probability for the next token (softmax of its logits) falls
 * below {@code pMin}, llama.cpp's --draft-p-min.
 */
public final class ModelDraft implements DraftSource {
    private final Transformer model;
    private final KvCache cache;
    private final Sampler sampler;
    private final boolean greedy;
    private final float pMin;
    /** The tokens the draft cache holds. */
    private int[] seen = new int[0];
    private int seenLength;
    private float[] lastLogits;
    /** Single-token draft steps made and their total time (catch-up batches not counted). */
    private long steps, stepTime;

    public ModelDraft(Transformer model, KvCache cache, SamplingParams targetParams, float pMin) {
        this.model = model;
        this.cache = cache;
        SamplingParams p = targetParams;
        this.sampler = new Sampler(new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), 1f, 0, 0f, 0f,
                p.seed() == SamplingParams.RANDOM_SEED ? p.seed() : p.seed() ^ 0x5DEECE66DL));
        this.greedy = p.greedyDecoding();
        this.pMin = pMin;
    }

    @Override
    public Draft propose(int[] history, int length, int max) {
        if (max <= 0) return Draft.EMPTY;
        sync(history, length);
        int room = cache.capacity() - cache.length();
        max = Math.min(max, room);
        int[] tokens = new int[Math.max(0, max)];
        TokenDistribution[] q = greedy ? null : new TokenDistribution[tokens.length];
        int n = 0;
        float[] logits = lastLogits;
        while (n < max) {
            if (topProbability(logits) < pMin) break;
            int x;
            if (greedy) {
                x = Sampler.argmax(logits);
            } else {
                TokenDistribution d = sampler.distribution(logits);
                x = d.draw(sampler.nextUniform());
                q[n] = d;
            }
            tokens[n++] = x;
            if (n == max) break;
            long t0 = System.nanoTime();
            logits = model.forward(new int[] {x}, cache, false)[0];
            stepTime += System.nanoTime() - t0;
            steps++;
            append(x);
            lastLogits = logits;
        }
        return new Draft(Arrays.copyOf(tokens, n), q == null ? null : Arrays.copyOf(q, n));
    }

    @Override
    public void prepare(int[] history, int length) {
        if (length > 0 && length <= cache.capacity()) sync(history, length);
    }

    /** Brings the draft cache to history[0, length), keeping the shared prefix. */
    private void sync(int[] history, int length) {
        int keep = 0;
        while (keep < seenLength && keep < length - 1 && seen[keep] == history[keep]) keep++;
        if (keep == length - 1 && seenLength == length && seen[keep] == history[keep] && lastLogits != null) return;
        cache.truncate(keep);
        seenLength = keep;
        if (length - keep > cache.capacity() - keep) {
            throw new IllegalStateException("draft context of " + cache.capacity() + " tokens is full (raise -cd)");
        }
        int[] rest = Arrays.copyOfRange(history, keep, length);
        lastLogits = model.forward(rest, cache, false)[0];
        for (int t : rest) append(t);
    }

    private void append(int token) {
        if (seenLength == seen.length) seen = Arrays.copyOf(seen, Math.max(64, seenLength * 2));
        seen[seenLength++] = token;
    }

    static float topProbability(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        return (float) (1 / sum);
    }

    @Override
    public double stepNanos() {
        return steps == 0 ? Double.NaN : (double) stepTime / steps;
    }

    @Override
    public void close() {
        cache.close();
        model.close();
    }

    @Override
    public String describe() {
        return "draft model";
    }
}
