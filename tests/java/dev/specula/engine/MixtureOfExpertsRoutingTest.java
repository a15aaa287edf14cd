package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The router's choice and weights, as llama.cpp's llm_build_moe_ffn computes them. */
class MixtureOfExpertsRoutingTest {
    static final float[] LOGITS = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 3.0f, -2.0f, 1.0f};

    static double softmax(int i) {
        double sum = 0;
        for (float l : LOGITS) sum += Math.exp(l);
        return Math.exp(LOGITS[i]) / sum;
    }

    @Test
    void theMostProbableExpertsAreChosenInOrderWithTheirSoftmaxOverAllExpertsAsWeights() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(LOGITS, 3, false);
        assertArrayEquals(new int[] {5, 1, 3}, r.experts());
        for (int s = 0; s < 3; s++) assertEquals(softmax(r.experts()[s]), r.weights()[s], 1e-6, "weight of rank " + s);
    }

    @Test
    void normalisedWeightsAreRescaledToSumOne() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(LOGITS, 2, true);
        assertArrayEquals(new int[] {5, 1}, r.experts());
        double a = softmax(5), b = softmax(1);
        assertEquals(a / (a + b), r.weights()[0], 1e-6);
        assertEquals(b / (a + b), r.weights()[1], 1e-6);
    }

    @Test
    void oneExpertOfOneIsWeightedOne() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(new float[] {-4f}, 1, false);
        assertArrayEquals(new int[] {0}, r.experts());
        assertEquals(1f, r.weights()[0]);
    }

    @Test
    void tiesGoToTheLowerExpert() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(new float[] {1f, 2f, 2f, 0f}, 2, true);
        assertArrayEquals(new int[] {1, 2}, r.experts());
        assertEquals(0.5f, r.weights()[0], 1e-7);
    }
}
