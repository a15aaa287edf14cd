package dev.specula.cli;

import java.util.Locale;

/** Human-readable counts and sizes, as llama.cpp prints them (260.1K params, 4.07 GiB). */
final class Units {
    private Units() {}

    static String count(long n) {
        if (n < 1_000) return Long.toString(n);
        String[] suffix = {"K", "M", "B", "T"};
        double v = n;
        int i = -1;
        while (v >= 1000 && i < suffix.length - 1) {
            v /= 1000;
            i++;
        }
        return String.format(Locale.ROOT, "%.2f%s", v, suffix[i]);
    }

    static String bytes(long n) {
        return dev.specula.placement.ByteSize.format(n);
    }
}
