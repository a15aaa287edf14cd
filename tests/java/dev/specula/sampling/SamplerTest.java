package dev.specula.sampling;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class SamplerTest {
    static final float[] LOGITS = {1f, 3f, 2f, -1f, 2.5f, 0f};

    static SamplingParams params(float temp, int topK, float topP, float minP) {
        return new SamplingParams(temp, topK, topP, minP, 1f, 64, 0f, 0f, 42);
    }

    @Test
    void temperatureZeroIsGreedyWithAllMassOnTheArgmax() {
        Sampler s = new Sampler(SamplingParams.greedy());
        assertEquals(1, s.sample(LOGITS));
        TokenDistribution d = s.distribution(LOGITS);
        assertEquals(1, d.size());
        assertEquals(1f, d.probability(1));
        assertEquals(0f, d.probability(4));
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        SamplingParams p = params(1.5f, 0, 1f, 0f);
        int[] a = draws(new Sampler(p), 200), b = draws(new Sampler(p), 200);
        int[] c = draws(new Sampler(p.withSeed(7)), 200);
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }

    static int[] draws(Sampler s, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(LOGITS);
        return out;
    }

    @Test
    void topKKeepsTheKMostLikelyInOrder() {
        TokenDistribution d = new Sampler(params(1f, 3, 1f, 0f)).distribution(LOGITS);
        assertArrayEquals(new int[] {1, 4, 2}, d.tokens());
        assertEquals(1.0, d.probs()[0] + d.probs()[1] + d.probs()[2], 1e-6);
        assertArrayEquals(new int[] {3, 1, 0}, Sampler.topK(new float[] {0f, 1f, -5f, 9f}, 3));
    }

    @Test
    void topPKeepsTheSmallestPrefixReachingP() {
        // softmax at T=1 of LOGITS: token 1 ~0.445, 4 ~0.270, 2 ~0.164, 0 ~0.060, ...
        TokenDistribution d = new Sampler(params(1f, 0, 0.7f, 0f)).distribution(LOGITS);
        assertArrayEquals(new int[] {1, 4}, d.tokens());
        d = new Sampler(params(1f, 0, 0.01f, 0f)).distribution(LOGITS);
        assertArrayEquals(new int[] {1}, d.tokens());
    }

    @Test
    void minPDropsTokensFarLessLikelyThanTheBest() {
        // p(2)/p(1) = e^-1 ~ 0.37, p(0)/p(1) = e^-2 ~ 0.135
        TokenDistribution d = new Sampler(params(1f, 0, 1f, 0.3f)).distribution(LOGITS);
        assertArrayEquals(new int[] {1, 4, 2}, d.tokens());
    }

    @Test
    void temperatureSharpensOrFlattensAfterFiltering() {
        float cold = new Sampler(params(0.5f, 0, 1f, 0f)).distribution(LOGITS).probability(1);
        float warm = new Sampler(params(2f, 0, 1f, 0f)).distribution(LOGITS).probability(1);
        double expectedCold = 1 / (1 + Math.exp(-1) + Math.exp(-2) + Math.exp(-4) + Math.exp(-6) + Math.exp(-8));
        assertEquals(expectedCold, cold, 1e-6);
        assertTrue(warm < 0.445 && warm > 0.2, "flatter at T=2: " + warm);
    }

    @Test
    void repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 2f, 64, 0f, 0f, 1));
        s.accept(1);
        s.accept(3);
        // token 1: 3/2 = 1.5 < 2.5 (token 4) so greedy moves to 4; token 3: -1*2 = -2
        assertEquals(4, s.sample(LOGITS));
    }

    @Test
    void frequencyAndPresencePenaltiesCountOccurrencesInTheWindow() {
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 1f, 2, 0.4f, 0.1f, 1));
        s.accept(1);
        s.accept(1);
        // 3 - 2*0.4 - 0.1 = 2.1 < 2.5
        assertEquals(4, s.sample(LOGITS));
        s.accept(0);
        s.accept(0); // window of 2 has forgotten token 1
        assertEquals(1, s.sample(LOGITS));
    }

    @Test
    void drawsFollowTheDistribution() {
        Sampler s = new Sampler(params(1f, 0, 1f, 0f));
        TokenDistribution d = s.distribution(LOGITS);
        int n = 200_000;
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < n; i++) counts[s.sample(LOGITS)]++;
        double chi2 = 0;
        for (int t = 0; t < LOGITS.length; t++) {
            double expected = n * d.probability(t);
            chi2 += (counts[t] - expected) * (counts[t] - expected) / expected;
        }
        // 5 degrees of freedom: P(chi2 > 20.5) < 0.001. The seed is fixed, so this cannot flake.
        assertTrue(chi2 < 20.5, "chi-square " + chi2);
    }

    @Test
    void invalidSettingsAreRefusedWithTheirName() {
        var e = assertThrows(IllegalArgumentException.class, () -> params(1f, 0, 1.5f, 0f));
        assertTrue(e.getMessage().contains("top-p"));
        e = assertThrows(IllegalArgumentException.class, () -> params(1f, 0, 1f, -0.1f));
        assertTrue(e.getMessage().contains("min-p"));
    }
}
