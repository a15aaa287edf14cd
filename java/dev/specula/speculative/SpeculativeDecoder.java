package dev.specula.speculative;

import dev.specula.engine.Transformer;
import dev.specula.engine.Decoding;
import dev.specula.engine.KvCache;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.TokenDistribution;
import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

/**
 * Speculative decoding: each round a {@link DraftSource} proposes up to k tokens, the target
 * evaluates {@code [last token, proposals...]} in one batched forward pass, and the proposals are
 * checked in order against the target's distribution at each position.
 *
 * <ul>
 *   <li>Temperature 0: a proposal is accepted while it equals the target's greedy token; the first
 *       mismatch is replaced by the target's own token, and when all are accepted the target's
 *       token after the last one comes free. Every round yields at least one token, and the text
 *       is the target's own greedy text.
 *   <li>Temperature > 0: proposal x (drawn from q) is accepted with probability
 *       min(1, p(x) / q(x)); on rejection the token is drawn from normalise(max(0, p - q)). This
 *       leaves the output distributed exactly as the target's (Leviathan et al., Chen et al. 2023).
 * </ul>
 *
 * The target's KV cache always holds the sequence but its last token, which opens the next
 * batch; rejected proposals are dropped by truncating it. With {@code adaptive}, the draft length
 * of each round is chosen from the running acceptance rate and the measured costs of a draft step
 * and of a verification pass, and drafting pauses while it does not pay.
 */
public final class SpeculativeDecoder implements Decoding {
    public record Options(int draftMax, int draftMin, boolean adaptive) {
        public Options {
            if (draftMax < 0) throw new IllegalArgumentException("--draft-max must be at least 0, got " + draftMax);
            if (draftMin < 0) throw new IllegalArgumentException("--draft-min must be at least 0, got " + draftMin);
        }
    }

    private final Transformer target;
    private final KvCache cache;
    private final int batchSize;
    private final DraftSource draft;
    private final Options options;
    private final AdaptiveLength adaptive;
    /** The whole sequence; the cache holds history[0, length - 1). */
    private int[] history = new int[0];
    private int length;

    public long promptTokens, promptNanos, generatedTokens, generationNanos;
    /** Proposed tokens that the target checked, those it accepted, and verification rounds. */
    public long draftN, draftAccepted, rounds;

    public SpeculativeDecoder(Transformer target, KvCache cache, int batchSize, DraftSource draft, Options options) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        this.target = target;
        this.cache = cache;
        this.batchSize = batchSize;
        this.draft = draft;
        this.options = options;
        this.adaptive = options.adaptive() ? new AdaptiveLength(options.draftMax(), draft::stepNanos) : null;
    }

    public DraftSource draft() {
        return draft;
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    @Override
    public int[] sequence() {
        return Arrays.copyOf(history, length);
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

    /**
     * Median time of one plain decode step of the target (a batch of the last token alone) over
     * {@code reps} trials, the cache put back after each: the reference for the speed-up that
     * {@code run} reports.
     */
    public long measureTargetStep(int reps) {
        if (length == 0 || cache.length() >= cache.capacity()) return 0;
        long[] t = new long[reps];
        int held = cache.length();
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            target.forward(new int[] {history[length - 1]}, cache, false);
            t[r] = System.nanoTime() - t0;
            cache.truncate(held);
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    /** Accepted proposals over checked ones (0 when nothing was proposed). */
    public double acceptanceRate() {
        return draftN == 0 ? 0 : (double) draftAccepted / draftN;
    }

    /** Tokens generated per target verification pass. */
    public double tokensPerRound() {
        return rounds == 0 ? 0 : (double) generatedTokens / rounds;
    }

    /**
     * Makes the sequence {@code tokens}, re-using the longest prefix already in the cache and
     * evaluating the rest, but for the last token, in batches.
     */
    @Override
    public void setSequence(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("empty prompt");
        if (tokens.length > cache.capacity()) {
            throw new IllegalArgumentException("prompt of " + tokens.length + " tokens does not fit the context of "
                    + cache.capacity() + " (raise -c)");
        }
        int keep = 0;
        while (keep < length - 1 && keep < tokens.length - 1 && history[keep] == tokens[keep]) keep++;
        cache.truncate(Math.min(keep, cache.length()));
        long t0 = System.nanoTime();
        for (int at = cache.length(); at < tokens.length - 1; at += batchSize) {
            int[] batch = Arrays.copyOfRange(tokens, at, Math.min(tokens.length - 1, at + batchSize));
            target.forward(batch, cache, false);
            promptTokens += batch.length;
        }
        history = Arrays.copyOf(tokens, Math.max(16, tokens.length * 2));
        length = tokens.length;
        draft.prepare(history, length);
        promptNanos += System.nanoTime() - t0;
    }

    /**
     * Generates up to {@code maxTokens} tokens (-1: until the context is full), handing each to
     * {@code onToken} in order; stops after a token for which {@code isEnd} holds. Returns them.
     */
    @Override
    public int[] generate(Sampler sampler, int maxTokens, IntPredicate isEnd, IntConsumer onToken) {
        int[][] out = {new int[16]};
        int[] n = {0};
        IntConsumer collect = token -> {
            if (n[0] == out[0].length) out[0] = Arrays.copyOf(out[0], n[0] * 2);
            out[0][n[0]++] = token;
            onToken.accept(token);
        };
        while ((maxTokens < 0 || n[0] < maxTokens) && cache.length() < cache.capacity()) {
            if (round(sampler, maxTokens < 0 ? -1 : maxTokens - n[0], isEnd, collect)) break;
        }
        return Arrays.copyOf(out[0], n[0]);
    }

    /**
     * One round: drafts, verifies in one target pass and hands the 1 to k + 1 tokens it yields to
     * {@code onToken} (at most {@code budget}; -1 for no limit). Returns whether the last was an
     * end token.
     */
    public boolean round(Sampler sampler, int budget, IntPredicate isEnd, IntConsumer onToken) {
        Proposal p = propose(budget);
        if (p == null) return false;
        long v0 = System.nanoTime();
        float[][] rows = target.forward(p.batch(), cache, true);
        return verify(p, rows, System.nanoTime() - v0, sampler, isEnd, onToken);
    }

    /**
     * A round's draft, waiting for the target's verdict: {@code batch} ([last token, proposals])
     * is what the target must evaluate on this decoder's cache, all positions' logits kept.
     */
    public record Proposal(int[] batch, Draft draft, int requested, int room, long draftNanos, long startNanos) {}

    /**
     * The first half of a round, for callers that verify several sequences' drafts in one target
     * pass (the server's slots): drafts up to the budget (-1: none). Null when nothing can be
     * generated (no budget, or a full context). Follow it with {@link #verify} before anything
     * else touches this decoder.
     */
    public Proposal propose(int budget) {
        if (budget == 0 || cache.length() >= cache.capacity()) return null;
        long t0 = System.nanoTime();
        int room = budget < 0 ? Integer.MAX_VALUE : budget;
        // The batch [last, proposals...] must fit the cache; proposals past the budget are wasted.
        int k = Math.min(options.draftMax(), Math.min(room - 1, cache.capacity() - cache.length() - 1));
        if (adaptive != null) k = Math.min(k, adaptive.next());
        Draft d = k > 0 ? draft.propose(history, length, k) : Draft.EMPTY;
        long draftNanos = System.nanoTime() - t0;
        if (d.size() < Math.max(1, options.draftMin())) d = Draft.EMPTY;
        int[] batch = new int[d.size() + 1];
        batch[0] = history[length - 1];
        System.arraycopy(d.tokens(), 0, batch, 1, d.size());
        return new Proposal(batch, d, k, room, draftNanos, t0);
    }

    /**
     * The second half of a round: {@code rows} are the target's logits for every position of
     * {@code p.batch()}, now in the cache (they took {@code verifyNanos}, this sequence's share of
     * the pass). Accepts or replaces the proposals, hands the tokens to {@code onToken}, rolls the
     * cache back to the accepted prefix. Returns whether the last token was an end token.
     */
    public boolean verify(Proposal p, float[][] rows, long verifyNanos, Sampler sampler, IntPredicate isEnd, IntConsumer onToken) {
        Draft d = p.draft();
        boolean greedy = sampler.params().greedyDecoding();
        rounds++;
        draftN += d.size();

        int accepted = 0, produced = 0;
        boolean stop = false, ended = false;
        for (int i = 0; i <= d.size() && !stop; i++) {
            TokenDistribution dist = sampler.distribution(rows[i]);
            int token;
            boolean isDraft = false;
            if (i == d.size()) {
                token = greedy ? dist.mostLikely() : dist.draw(sampler.nextUniform());
            } else {
                int x = d.tokens()[i];
                boolean accept = greedy ? x == dist.mostLikely() : sampler.nextUniform() < Math.min(1.0, dist.probability(x) / (double) d.q(i, x));
                if (accept) {
                    token = x;
                    isDraft = true;
                } else {
                    token = greedy ? dist.mostLikely() : residual(dist, d, i, sampler.nextUniform());
                }
            }
            if (isDraft) {
                accepted++;
                draftAccepted++;
            }
            sampler.accept(token);
            ended = isEnd.test(token);
            if (!ended) append(token); // as the plain generator: an end token is not part of the sequence
            generatedTokens++;
            produced++;
            onToken.accept(token);
            // A rejected or bonus token ends the round; so do an end token and the budget.
            stop = !isDraft || ended || produced >= p.room();
        }
        cache.truncate(Math.min(cache.length(), length - 1));
        if (adaptive != null) adaptive.record(p.requested(), d.size(), accepted, produced, p.draftNanos(), verifyNanos);
        generationNanos += System.nanoTime() - p.startNanos();
        return ended;
    }

    /** Draws from normalise(max(0, p - q)) with u uniform in [0, 1). */
    static int residual(TokenDistribution p, Draft d, int i, double u) {
        int[] t = p.tokens();
        double[] r = new double[t.length];
        double sum = 0;
        for (int j = 0; j < t.length; j++) {
            r[j] = Math.max(0, p.probs()[j] - d.q(i, t[j]));
            sum += r[j];
        }
        if (sum <= 0) return p.draw(u); // p == q: any rejection was rounding
        double acc = 0, target = u * sum;
        for (int j = 0; j < t.length; j++) {
            acc += r[j];
            if (target < acc && r[j] > 0) return t[j];
        }
        for (int j = t.length - 1; j >= 0; j--) if (r[j] > 0) return t[j];
        return p.mostLikely();
    }

    private void append(int token) {
        if (length == history.length) history = Arrays.copyOf(history, length * 2);
        history[length++] = token;
    }

    /**
     * Chooses each round's draft length. While drafting, k maximises the expected tokens per
     * second E(k) / (k × draft step + verify(k)), with E(k) = (1 - a^(k+1)) / (1 - a) for a running
     * per-token acceptance rate a and verify(k) = v1 + c × k fitted from the rounds so far. Whether
     * to draft at all is decided on measured throughput: tokens per second of drafting rounds
     * (their whole time, draft evaluation and early stops included) against plain rounds. When
     * drafting loses, it pauses and probes again after a number of plain rounds that keeps probes
     * under 3 % of the time ({@link #affordableInterval}), doubling after each losing probe (up to
     * 256 rounds), so a poor draft costs almost nothing and a change in the text can turn drafting
     * back on.
     */
    static final class AdaptiveLength {
        static final int FIRST_PROBE = 16, LAST_PROBE = 256;
        /** Share of generation time probes may cost while drafting is paused. */
        static final double PROBE_BUDGET = 0.03;
        private static final double WEIGHT = 0.15;
        private final int max;
        private final java.util.function.DoubleSupplier stepCost;
        double acceptance = 0.6;
        /** Nanoseconds: one draft token, a verification of the last token alone, each extra verified token. */
        double draftStep = Double.NaN, verifyOne = Double.NaN, verifyExtra = Double.NaN;
        /** Measured tokens per nanosecond of drafting rounds, and of plain rounds. */
        double draftingRate = Double.NaN, plainRate = Double.NaN;
        private int plainRoundsLeft, probeInterval = FIRST_PROBE, emptyRounds;
        private boolean probing;

        AdaptiveLength(int max, java.util.function.DoubleSupplier stepCost) {
            this.max = max;
            this.stepCost = stepCost;
        }

        /**
         * Whether drafting could beat plain decoding even if every proposal were accepted, at the
         * measured costs. A draft model nearly as slow per token as the target never can, and
         * then it is not even probed (a probe would pay for catching the draft up on the text).
         */
        boolean couldPay() {
            if (Double.isNaN(draftStep) || Double.isNaN(verifyExtra) || Double.isNaN(verifyOne)) return true;
            for (int k = 1; k <= max; k++) {
                if ((k + 1) / (k * draftStep + verifyOne + k * verifyExtra) > 1 / verifyOne) return true;
            }
            return false;
        }

        int next() {
            if (Double.isNaN(plainRate)) return 0; // measure a plain round first
            if (Double.isNaN(draftingRate)) return max;
            if (plainRoundsLeft > 0) {
                if (!couldPay()) return 0;
                plainRoundsLeft--;
                if (plainRoundsLeft == 0) probing = true;
                return plainRoundsLeft == 0 ? bestLength() : 0;
            }
            return bestLength();
        }

        private int bestLength() {
            if (Double.isNaN(draftStep) || Double.isNaN(verifyExtra)) return max;
            int best = 1;
            double bestRate = 0;
            for (int k = 1; k <= max; k++) {
                double expected = acceptance >= 1 ? k + 1 : (1 - Math.pow(acceptance, k + 1)) / (1 - acceptance);
                double rate = expected / (k * draftStep + verifyOne + k * verifyExtra);
                if (rate > bestRate) {
                    bestRate = rate;
                    best = k;
                }
            }
            return best;
        }

        void record(int requested, int proposed, int accepted, int produced, long draftNanos, long verifyNanos) {
            if (requested == 0) {
                plainRate = ema(plainRate, 1.0 / verifyNanos);
                verifyOne = ema(verifyOne, verifyNanos);
                return;
            }
            double rate = (double) produced / (draftNanos + verifyNanos);
            draftingRate = ema(draftingRate, rate);
            // A draft that keeps proposing nothing (never confident enough for --draft-p-min) is not worth probing.
            emptyRounds = proposed == 0 ? emptyRounds + 1 : 0;
            if (emptyRounds >= 2) probeInterval = LAST_PROBE;
            if (proposed > 0) {
                double step = stepCost.getAsDouble();
                if (!Double.isNaN(step)) draftStep = step;
                if (!Double.isNaN(verifyOne)) verifyExtra = ema(verifyExtra, Math.max(0, (verifyNanos - verifyOne) / proposed));
                // Accepted before the first rejection: a geometric count; its per-token rate is a / (a + 1) when cut short.
                double observed = accepted == proposed ? 1.0 : (double) accepted / (accepted + 1);
                acceptance = Math.min(0.99, (1 - WEIGHT) * acceptance + WEIGHT * observed);
            }
            boolean losing = draftingRate < plainRate;
            if (probing) {
                probing = false;
                // A probe that wins resumes drafting (and resets its running rate to the probe's own).
                if (rate >= plainRate) {
                    draftingRate = rate;
                    probeInterval = Math.min(FIRST_PROBE, affordableInterval());
                    return;
                }
                probeInterval = Math.min(LAST_PROBE, Math.max(probeInterval * 2, affordableInterval()));
                plainRoundsLeft = probeInterval;
                return;
            }
            if (losing) plainRoundsLeft = Math.max(probeInterval, affordableInterval());
        }

        /**
         * The fewest plain rounds between probes that keeps probing under {@link #PROBE_BUDGET} of
         * the time: a one-token probe costs an extra verified token plus a draft step, and a
         * draft model must also catch up on every token since its last round (about a draft
         * step each), a cost no interval can spread thin; such a draft waits the longest.
         */
        int affordableInterval() {
            if (Double.isNaN(verifyOne) || Double.isNaN(verifyExtra)) return FIRST_PROBE;
            double step = Double.isNaN(draftStep) ? 0 : draftStep;
            if (step / verifyOne > PROBE_BUDGET) return LAST_PROBE;
            double probe = verifyExtra + step;
            return (int) Math.clamp(Math.ceil(probe / (PROBE_BUDGET * verifyOne)), 4, LAST_PROBE);
        }

        private static double ema(double old, double value) {
            return Double.isNaN(old) ? value : (1 - WEIGHT) * old + WEIGHT * value;
        }
    }
}
