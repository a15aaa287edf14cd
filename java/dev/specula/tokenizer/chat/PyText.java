package dev.specula.tokenizer.chat;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's text conversions and string primitives, as jinja2 sees them: {@code str()} and
 * {@code repr()} of every value, float formatting, Python's idea of whitespace, and strip/split.
 * Python strings index by code point, so lengths and slices here do too.
 */
final class PyText {
    private PyText() {}

    /** Python's {@code str(value)}; Undefined prints as nothing, as jinja2 renders it. */
    static String str(Object v) {
        return switch (v) {
            case null -> "None";
            case String s -> s;
            case Markup m -> m.text();
            case Undefined u -> "";
            default -> repr(v);
        };
    }

    /** Python's {@code repr(value)}, used for the elements of printed lists and dicts. */
    static String repr(Object v) {
        return switch (v) {
            case null -> "None";
            case Boolean b -> b ? "True" : "False";
            case Long l -> Long.toString(l);
            case Double d -> floatRepr(d);
            case String s -> stringRepr(s);
            case Markup m -> "Markup(" + stringRepr(m.text()) + ")";
            case PyTuple t -> tupleRepr(t);
            case List<?> l -> join(l, "[", "]");
            case Map<?, ?> m -> mapRepr(m);
            case Undefined u -> "Undefined";
            case Namespace n -> "<Namespace " + mapRepr(n.attributes) + ">";
            default -> v.toString();
        };
    }

    private static String tupleRepr(PyTuple t) {
        return t.size() == 1 ? "(" + repr(t.get(0)) + ",)" : join(t, "(", ")");
    }

    private static String join(List<?> items, String open, String close) {
        StringBuilder b = new StringBuilder(open);
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) b.append(", ");
            b.append(repr(items.get(i)));
        }
        return b.append(close).toString();
    }

    private static String mapRepr(Map<?, ?> m) {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!first) b.append(", ");
            first = false;
            b.append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
        }
        return b.append('}').toString();
    }

    /** Python's string repr: single quotes unless the text has ' and no ". */
    static String stringRepr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder b = new StringBuilder(s.length() + 2).append(quote);
        s.codePoints().forEach(cp -> {
            if (cp == quote || cp == '\\') b.append('\\').appendCodePoint(cp);
            else if (cp == '\n') b.append("\\n");
            else if (cp == '\r') b.append("\\r");
            else if (cp == '\t') b.append("\\t");
            else if (isPrintable(cp)) b.appendCodePoint(cp);
            else if (cp < 0x100) b.append(String.format("\\x%02x", cp));
            else if (cp < 0x10000) b.append(String.format("\\u%04x", cp));
            else b.append(String.format("\\U%08x", cp));
        });
        return b.append(quote).toString();
    }

    /** Python's str.isprintable for one code point: everything but controls, format, separators. */
    private static boolean isPrintable(int cp) {
        if (cp == ' ') return true;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SPACE_SEPARATOR -> false;
            default -> true;
        };
    }

    /**
     * Python's float repr: the shortest digits that round-trip (Java's Double.toString gives the
     * same digits), fixed notation for exponents -4..15 and scientific ("1e+16") outside it.
     */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal exact = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = exact.unscaledValue().toString();
        int exponent = digits.length() - 1 - exact.scale(); // position of the first digit
        StringBuilder b = new StringBuilder(d < 0 ? "-" : "");
        if (exponent < -4 || exponent >= 16) {
            b.append(digits.charAt(0));
            if (digits.length() > 1) b.append('.').append(digits, 1, digits.length());
            b.append(exponent < 0 ? "e-" : "e+");
            String e = Integer.toString(Math.abs(exponent));
            if (e.length() < 2) b.append('0');
            return b.append(e).toString();
        }
        if (exponent < 0) {
            b.append("0.").append("0".repeat(-exponent - 1)).append(digits);
        } else if (digits.length() <= exponent + 1) {
            b.append(digits).append("0".repeat(exponent + 1 - digits.length())).append(".0");
        } else {
            b.append(digits, 0, exponent + 1).append('.').append(digits, exponent + 1, digits.length());
        }
        return b.toString();
    }

    /** Python's str.isspace for one code point (wider than Java's Character.isWhitespace). */
    static boolean isSpace(int cp) {
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85) return true;
        int type = Character.getType(cp);
        return type == Character.SPACE_SEPARATOR || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR;
    }

    static boolean isAllSpace(String s) {
        return !s.isEmpty() && s.codePoints().allMatch(PyText::isSpace);
    }

    /** str.strip/lstrip/rstrip: chars null strips whitespace, else any code point in chars. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0, end = s.length();
        while (left && start < end) {
            int cp = s.codePointAt(start);
            if (!stripped(cp, chars)) break;
            start += Character.charCount(cp);
        }
        while (right && end > start) {
            int cp = s.codePointBefore(end);
            if (!stripped(cp, chars)) break;
            end -= Character.charCount(cp);
        }
        return s.substring(start, end);
    }

    private static boolean stripped(int cp, String chars) {
        return chars == null ? isSpace(cp) : chars.indexOf(Character.toString(cp)) >= 0;
    }

    /** str.split / str.rsplit with Python's rules (sep null: runs of whitespace, no empties). */
    static List<Object> split(String s, String sep, long maxSplit, boolean fromRight) {
        if (sep != null && sep.isEmpty()) throw JinjaError.render("empty separator");
        List<Object> parts = sep == null ? splitWhitespace(s) : splitExact(s, sep);
        if (maxSplit < 0 || parts.size() <= maxSplit + 1) return parts;
        // Rejoin the surplus pieces; for whitespace splitting the original spacing must survive.
        if (sep != null) {
            List<Object> out = new ArrayList<>();
            int keep = (int) maxSplit;
            if (fromRight) {
                out.add(String.join(sep, parts.subList(0, parts.size() - keep).stream().map(o -> (String) o).toList()));
                out.addAll(parts.subList(parts.size() - keep, parts.size()));
            } else {
                out.addAll(parts.subList(0, keep));
                out.add(String.join(sep, parts.subList(keep, parts.size()).stream().map(o -> (String) o).toList()));
            }
            return out;
        }
        return fromRight ? rsplitWhitespace(s, (int) maxSplit) : lsplitWhitespace(s, (int) maxSplit);
    }

    private static List<Object> splitExact(String s, String sep) {
        List<Object> out = new ArrayList<>();
        int from = 0;
        while (true) {
            int i = s.indexOf(sep, from);
            if (i < 0) break;
            out.add(s.substring(from, i));
            from = i + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<Object> splitWhitespace(String s) {
        return lsplitWhitespace(s, Integer.MAX_VALUE);
    }

    private static List<Object> lsplitWhitespace(String s, int max) {
        List<Object> out = new ArrayList<>();
        int i = 0, n = s.length();
        while (true) {
            while (i < n && isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
            if (i >= n) break;
            if (out.size() == max) {
                out.add(s.substring(i));
                break;
            }
            int start = i;
            while (i < n && !isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
            out.add(s.substring(start, i));
        }
        return out;
    }

    private static List<Object> rsplitWhitespace(String s, int max) {
        List<Object> out = new ArrayList<>();
        int i = s.length();
        while (true) {
            while (i > 0 && isSpace(s.codePointBefore(i))) i -= Character.charCount(s.codePointBefore(i));
            if (i <= 0) break;
            if (out.size() == max) {
                out.add(0, s.substring(0, i));
                break;
            }
            int end = i;
            while (i > 0 && !isSpace(s.codePointBefore(i))) i -= Character.charCount(s.codePointBefore(i));
            out.add(0, s.substring(i, end));
        }
        return out;
    }

    /** str.splitlines(): splits on Python's line boundaries, dropping them. */
    static List<Object> splitLines(String s) {
        List<Object> out = new ArrayList<>();
        int start = 0, i = 0, n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            boolean boundary = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e)
                    || c == 0x85 || c == '\u2028' || c == '\u2029';
            if (!boundary) {
                i++;
                continue;
            }
            out.add(s.substring(start, i));
            i += (c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') ? 2 : 1;
            start = i;
        }
        if (start < n) out.add(s.substring(start));
        return out;
    }

    static int length(String s) {
        return s.codePointCount(0, s.length());
    }

    static int[] codePoints(String s) {
        return s.codePoints().toArray();
    }

    static String fromCodePoints(int[] cps, int from, int to) {
        return new String(cps, from, to - from);
    }

    /** Python's str.upper/lower/capitalize (locale-independent). */
    static String upper(String s) {
        return s.toUpperCase(java.util.Locale.ROOT);
    }

    static String lower(String s) {
        return s.toLowerCase(java.util.Locale.ROOT);
    }

    static String capitalize(String s) {
        if (s.isEmpty()) return s;
        int first = s.codePointAt(0);
        int n = Character.charCount(first);
        return upper(Character.toString(first)) + lower(s.substring(n));
    }

    /** Python's str.title: a cased character after an uncased one is title-cased, others lowered. */
    static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int cp : codePoints(s)) {
            boolean cased = Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
            String ch = Character.toString(cp);
            b.append(!cased ? ch : previousCased ? lower(ch) : Character.toString(Character.toTitleCase(cp)));
            previousCased = cased;
        }
        return b.toString();
    }
}
