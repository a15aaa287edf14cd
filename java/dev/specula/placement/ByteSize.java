package dev.specula.placement;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Memory sizes as users write them ({@code 20GiB}, {@code 500MiB}, {@code 1.5GB}, {@code 4096}) and as the plan prints them. */
public final class ByteSize {
    private ByteSize() {}

    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(|B|K|KB|KIB|M|MB|MIB|G|GB|GIB|T|TB|TIB)\\s*");

    /** Bytes in {@code text}: binary units (KiB, MiB, GiB, TiB; K, M, G, T alone mean the same) or decimal ones (KB, MB, GB, TB). */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) throw new IllegalArgumentException("'" + text + "' is not a size (e.g. 20GiB, 500MiB, 1.5GB)");
        double v = Double.parseDouble(m.group(1));
        String unit = m.group(2).toUpperCase(Locale.ROOT);
        double scale = switch (unit) {
            case "", "B" -> 1;
            case "K", "KIB" -> 1L << 10;
            case "M", "MIB" -> 1L << 20;
            case "G", "GIB" -> 1L << 30;
            case "T", "TIB" -> 1L << 40;
            case "KB" -> 1e3;
            case "MB" -> 1e6;
            case "GB" -> 1e9;
            case "TB" -> 1e12;
            default -> throw new IllegalStateException(unit);
        };
        return Math.round(v * scale);
    }

    /** 1.23 GiB, 500.00 MiB, 12 B (as llama.cpp prints sizes). */
    public static String format(long n) {
        if (n < 1024) return n + " B";
        String[] suffix = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int i = -1;
        while (v >= 1024 && i < suffix.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, suffix[i]);
    }
}
