package dev.specula.speculative;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The adaptive draft length's decisions on simulated costs and acceptance. */
class AdaptiveLengthTest {
    static final long STEP = 100_000; // one plain target step, ns

    /** Runs rounds with a draft of per-token cost draftStep that proposes what it is asked and has each accepted with probability p (deterministic pattern). */
    static int[] simulate(SpeculativeDecoder.AdaptiveLength a, double draftStep, double acceptEvery, double extraVerify, int rounds) {
        int drafted = 0, plain = 0;
        double acc = 0.5;
        for (int r = 0; r < rounds; r++) {
            int k = a.next();
            if (k == 0) {
                a.record(0, 0, 0, 1, 0, STEP);
                plain++;
                continue;
            }
            drafted++;
            int accepted = 0;
            for (int i = 0; i < k; i++) {
                acc += acceptEvery;
                if (acc >= 1) {
                    acc -= 1;
                    accepted++;
                } else break;
            }
            a.record(k, k, accepted, accepted + 1, (long) (k * draftStep), (long) (STEP + k * extraVerify));
        }
        return new int[] {drafted, plain};
    }

    @Test
    void aDraftAsSlowAsTheTargetIsSwitchedOffAndNotProbed() {
        var a = new SpeculativeDecoder.AdaptiveLength(8, () -> 0.8 * STEP);
        int[] r = simulate(a, 0.8 * STEP, 0.9, 0.5 * STEP, 400);
        assertTrue(r[0] <= 3, "drafting rounds " + r[0]);
        assertFalse(a.couldPay());
    }

    @Test
    void aCheapAccurateDraftKeepsDraftingWithLongDrafts() {
        var a = new SpeculativeDecoder.AdaptiveLength(8, () -> 0.02 * STEP);
        int[] r = simulate(a, 0.02 * STEP, 0.95, 0.05 * STEP, 400);
        assertTrue(r[0] > 390, "drafting rounds " + r[0] + " of 400");
        assertTrue(a.next() >= 4, "draft length " + a.next());
    }

    @Test
    void aCheapDraftThatIsNeverRightIsPausedButProbedSparingly() {
        var a = new SpeculativeDecoder.AdaptiveLength(8, () -> 0.0);
        int[] r = simulate(a, 0, 0.0, 0.6 * STEP, 1000);
        assertTrue(r[0] >= 3 && r[0] <= 60, "probes " + r[0]);
    }
}
