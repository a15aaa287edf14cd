package dev.specula.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * llama.cpp's default chain: penalties (repeat, frequency, presence over the last N tokens),
 * top-k, top-p, min-p, temperature, then a seeded draw. Temperature 0 is greedy. The draw uses its
 * own seeded generator, so a seed and settings reproduce the same tokens on every run.
 */
public final class Sampler {
    private final SamplingParams params;
    private final SplittableRandom random;
    private final int[] recent;
    private int recentCount;
    private int recentHead;

    public Sampler(SamplingParams params) {
        this.params = params;
        long seed = params.seed() == SamplingParams.RANDOM_SEED ? System.nanoTime() : params.seed();
        this.random = new SplittableRandom(seed);
        int window = params.repeatLastN() < 0 ? 1 << 16 : params.repeatLastN();
        this.recent = new int[Math.max(window, 0)];
    }

    public SamplingParams params() {
        return params;
    }

    /** Records a token that was emitted (prompt or generated), for the penalties. */
    public void accept(int token) {
        if (recent.length == 0) return;
        recent[recentHead] = token;
        recentHead = (recentHead + 1) % recent.length;
        recentCount = Math.min(recentCount + 1, recent.length);
    }

    /** Samples the next token from {@code logits} (which are not modified). */
    public int sample(float[] logits) {
        TokenDistribution d = distribution(logits);
        return params.greedyDecoding() ? d.mostLikely() : d.draw(random.nextDouble());
    }

    /** A uniform number from this sampler's seeded stream (speculative acceptance tests use it). */
    public double nextUniform() {
        return random.nextDouble();
    }

    /** The distribution the chain leaves; at temperature 0 all mass is on the greedy token. */
    public TokenDistribution distribution(float[] logits) {
        float[] l = params.penalised() ? penalise(logits) : logits;
        if (params.greedyDecoding()) return new TokenDistribution(new int[] {argmax(l)}, new float[] {1f});
        int[] cand = topK(l, params.topK());
        float[] p = softmax(l, cand, 1f);
        int keep = topPCount(p, params.topP());
        keep = minPCount(p, keep, params.minP());
        cand = Arrays.copyOf(cand, keep);
        return new TokenDistribution(cand, softmax(l, cand, params.temperature()));
    }

    private float[] penalise(float[] logits) {
        float[] l = logits.clone();
        int n = recentCount;
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) tokens[i] = recent[(recentHead - 1 - i + recent.length) % recent.length];
        Arrays.sort(tokens);
        for (int i = 0; i < n; ) {
            int t = tokens[i], c = 0;
            while (i < n && tokens[i] == t) {
                i++;
                c++;
            }
            if (t < 0 || t >= l.length) continue;
            l[t] = l[t] > 0 ? l[t] / params.repeatPenalty() : l[t] * params.repeatPenalty();
            l[t] -= c * params.frequencyPenalty() + params.presencePenalty();
        }
        return l;
    }

    /** Index of the largest logit (the first of equals). */
    public static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    /** Indices of the k largest logits, largest first (all of them, sorted, when k is off). */
    static int[] topK(float[] l, int k) {
        int n = l.length;
        if (k <= 0 || k >= n) {
            Integer[] idx = new Integer[n];
            for (int i = 0; i < n; i++) idx[i] = i;
            Arrays.sort(idx, (a, b) -> {
                int byLogit = Float.compare(l[b], l[a]);
                return byLogit != 0 ? byLogit : Integer.compare(a, b);
            });
            int[] out = new int[n];
            for (int i = 0; i < n; i++) out[i] = idx[i];
            return out;
        }
        // Keep a sorted window of the best k seen so far: O(n) for the common case, k small.
        int[] best = new int[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            float v = l[i];
            if (size == k && v <= l[best[k - 1]]) continue;
            int pos = size < k ? size++ : k - 1;
            while (pos > 0 && l[best[pos - 1]] < v) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = i;
        }
        return best;
    }

    /** Probabilities of the candidates at temperature {@code temp}, in the candidates' order. */
    static float[] softmax(float[] l, int[] cand, float temp) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t : cand) max = Math.max(max, l[t]);
        float[] p = new float[cand.length];
        double sum = 0;
        for (int i = 0; i < cand.length; i++) {
            p[i] = (float) Math.exp((l[cand[i]] - max) / temp);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) p[i] = (float) (p[i] / sum);
        return p;
    }

    /** Smallest prefix (at least 1) of sorted probabilities whose sum reaches topP. */
    static int topPCount(float[] p, float topP) {
        if (topP >= 1f) return p.length;
        double acc = 0;
        for (int i = 0; i < p.length; i++) {
            acc += p[i];
            if (acc >= topP) return i + 1;
        }
        return p.length;
    }

    /** Of the first {@code keep} sorted probabilities, how many reach minP times the largest. */
    static int minPCount(float[] p, int keep, float minP) {
        if (minP <= 0f || keep == 0) return keep;
        float threshold = p[0] * minP;
        int n = 1;
        while (n < keep && p[n] >= threshold) n++;
        return n;
    }
}
