package dev.specula.tensor;

/** The roundings ggml's quantizers use, spelled out because Java's own differ on ties. */
final class Rounding {
    private Rounding() {}

    /** C's {@code roundf}: ties away from zero ({@link Math#round} sends -2.5 to -2, roundf to -3). */
    static int halfAwayFromZero(float v) {
        // In double, |v| + 0.5 is exact for every float, so floor gives roundf's answer.
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    /** ggml's {@code nearest_int}: ties to even, as the FPU's default rounding. */
    static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    /** C's conversion {@code (int8_t) v} for v in range: truncation toward zero. */
    static int truncate(float v) {
        return (int) v;
    }

    /**
     * Index of the entry of the ascending table {@code values} nearest to {@code v}; a tie goes
     * to the larger entry, as ggml's {@code best_index_int8}.
     */
    static int nearestIndex(byte[] values, float v) {
        int n = values.length;
        if (v <= values[0]) return 0;
        if (v >= values[n - 1]) return n - 1;
        int upper = 1;
        while (values[upper] <= v) upper++;
        return v - values[upper - 1] < values[upper] - v ? upper - 1 : upper;
    }
}
