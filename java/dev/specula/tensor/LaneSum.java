package dev.specula.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The sum of a float vector's lanes in one fixed order, whether the JIT has compiled the caller
 * or not. {@code reduceLanes(ADD)} sums sequentially in the Java fallback (interpreter, C1) and as
 * a tree once C2 intrinsifies it, so the same program gave results differing in the last bit
 * depending on when the JIT got to it; with 8-bit activation rounding that can move a value to
 * the next level, and a seeded run then wrote different text. Here the tree is spelled out with
 * constant shuffles (lane i plus lane i xor h, for h = n/2 .. 1), which both paths compute alike.
 */
public final class LaneSum {
    private LaneSum() {}

    private static final VectorShuffle<Float>[] S512 = shuffles(FloatVector.SPECIES_512);
    private static final VectorShuffle<Float>[] S256 = shuffles(FloatVector.SPECIES_256);
    private static final VectorShuffle<Float>[] S128 = shuffles(FloatVector.SPECIES_128);

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] shuffles(VectorSpecies<Float> s) {
        int n = s.length();
        VectorShuffle<Float>[] out = new VectorShuffle[Integer.numberOfTrailingZeros(n)];
        for (int k = 0, h = n / 2; h >= 1; k++, h /= 2) {
            int half = h;
            out[k] = VectorShuffle.fromOp(s, i -> i ^ half);
        }
        return out;
    }

    public static float of(FloatVector v) {
        switch (v.length()) {
            case 16 -> {
                v = v.add(v.rearrange(S512[0]));
                v = v.add(v.rearrange(S512[1]));
                v = v.add(v.rearrange(S512[2]));
                v = v.add(v.rearrange(S512[3]));
            }
            case 8 -> {
                v = v.add(v.rearrange(S256[0]));
                v = v.add(v.rearrange(S256[1]));
                v = v.add(v.rearrange(S256[2]));
            }
            case 4 -> {
                v = v.add(v.rearrange(S128[0]));
                v = v.add(v.rearrange(S128[1]));
            }
            default -> {
                float s = 0;
                for (int i = 0; i < v.length(); i++) s += v.lane(i);
                return s;
            }
        }
        return v.lane(0);
    }
}
