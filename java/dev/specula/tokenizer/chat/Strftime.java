package dev.specula.tokenizer.chat;

import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.Locale;

/**
 * C's strftime as Python's {@code datetime.strftime} exposes it on Linux (C locale), for the
 * {@code strftime_now} global that templates use to print today's date. glibc's {@code %-d}
 * style (no padding) is supported, as templates such as Llama 3.2's rely on it.
 */
final class Strftime {
    private Strftime() {}

    static String format(ZonedDateTime t, String pattern) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (c != '%' || i + 1 >= pattern.length()) {
                out.append(c);
                continue;
            }
            char d = pattern.charAt(++i);
            boolean unpadded = false;
            if (d == '-' && i + 1 < pattern.length()) {
                unpadded = true;
                d = pattern.charAt(++i);
            }
            String field = field(t, d);
            if (field == null) {
                out.append('%').append(unpadded ? "-" : "").append(d);
                continue;
            }
            if (unpadded) field = field.replaceFirst("^[0 ]+(?=.)", "");
            out.append(field);
        }
        return out.toString();
    }

    private static String field(ZonedDateTime t, char d) {
        return switch (d) {
            case 'Y' -> Integer.toString(t.getYear());
            case 'y' -> two(t.getYear() % 100);
            case 'm' -> two(t.getMonthValue());
            case 'd' -> two(t.getDayOfMonth());
            case 'e' -> String.format("%2d", t.getDayOfMonth());
            case 'H' -> two(t.getHour());
            case 'I' -> two((t.getHour() + 11) % 12 + 1);
            case 'M' -> two(t.getMinute());
            case 'S' -> two(t.getSecond());
            case 'f' -> String.format("%06d", t.getNano() / 1000);
            case 'p' -> t.getHour() < 12 ? "AM" : "PM";
            case 'j' -> String.format("%03d", t.getDayOfYear());
            case 'a' -> t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
            case 'A' -> t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
            case 'b', 'h' -> t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH);
            case 'B' -> t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH);
            case 'w' -> Integer.toString(t.getDayOfWeek().getValue() % 7);
            case 'u' -> Integer.toString(t.getDayOfWeek().getValue());
            case 'F' -> field(t, 'Y') + "-" + field(t, 'm') + "-" + field(t, 'd');
            case 'T' -> field(t, 'H') + ":" + field(t, 'M') + ":" + field(t, 'S');
            case 'D' -> field(t, 'm') + "/" + field(t, 'd') + "/" + field(t, 'y');
            case 'R' -> field(t, 'H') + ":" + field(t, 'M');
            case 'c' -> field(t, 'a') + " " + field(t, 'b') + " " + field(t, 'e') + " " + field(t, 'T') + " " + field(t, 'Y');
            case 'x' -> field(t, 'D');
            case 'X' -> field(t, 'T');
            // transformers formats datetime.now(), a naive local time: no zone to print.
            case 'z', 'Z' -> "";
            case 'n' -> "\n";
            case 't' -> "\t";
            case '%' -> "%";
            default -> null;
        };
    }

    private static String two(int n) {
        return n < 10 ? "0" + n : Integer.toString(n);
    }
}
