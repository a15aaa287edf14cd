package dev.specula.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The sum of a float vector's lanes: every kernel reduces through here, so the order can be
 * changed in one place.
 *
 * <p>Known limitation: {@code reduceLanes(ADD)} sums sequentially in the Java fallback
 * (interpreter, C1) and as a tree once C2 intrinsifies it, so results can differ in the last bit
 * between code the JIT has and has not compiled yet; with 8-bit activation rounding that can
 * move a value to the next level and, rarely, change sampled text between two runs with the
 * same seed. A fixed-order tree (halves added down to four lanes, or the lanes summed from an
 * array) made interpreted and compiled results bit-identical but cost twice the time on the
 * small models, where a row is two blocks long; it is not used until that cost is gone.
 */
public final class LaneSum {
    private LaneSum() {}

    public static float of(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }
}
