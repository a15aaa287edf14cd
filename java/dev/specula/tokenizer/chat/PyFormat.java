package dev.specula.tokenizer.chat;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Python's two string-formatting mini-languages: {@code "%s-%d" % (a, b)} (also the
 * {@code |format} filter) and {@code "{} {name}".format(...)}. The common conversions are here
 * (s r d i f e g x o c and width, precision, alignment, sign and zero padding).
 */
final class PyFormat {
    private PyFormat() {}

    private static final Pattern PERCENT =
            Pattern.compile("%(?:\\(([^)]*)\\))?([-+ #0]*)(\\d+)?(?:\\.(\\d+))?([sradiufFeEgGxXoc%])");

    static String percent(String format, Object args) {
        List<?> values = args instanceof PyTuple t ? t : List.of(args == null ? NONE : args);
        Map<?, ?> mapping = args instanceof Map<?, ?> m ? m : null;
        StringBuilder out = new StringBuilder();
        Matcher m = PERCENT.matcher(format);
        int next = 0, last = 0;
        while (m.find()) {
            out.append(format, last, m.start());
            last = m.end();
            char type = m.group(5).charAt(0);
            if (type == '%' && m.group(1) == null) {
                out.append('%');
                continue;
            }
            Object value;
            if (m.group(1) != null) {
                if (mapping == null) throw JinjaError.render("format requires a mapping");
                Object key = PyOps.findKey(mapping, m.group(1));
                if (key == PyOps.MISSING) throw JinjaError.render("KeyError: " + PyText.repr(m.group(1)));
                value = mapping.get(key);
            } else {
                if (next >= values.size()) throw JinjaError.render("not enough arguments for format string");
                value = values.get(next++);
                if (value == NONE) value = null;
            }
            String flags = m.group(2);
            int width = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
            Integer precision = m.group(4) == null ? null : Integer.parseInt(m.group(4));
            out.append(convert(value, type, flags, width, precision));
        }
        out.append(format.substring(last));
        if (mapping == null && next < values.size()) {
            throw JinjaError.render("not all arguments converted during string formatting");
        }
        return out.toString();
    }

    private static final Object NONE = new Object();

    private static String convert(Object value, char type, String flags, int width, Integer precision) {
        String body;
        boolean numeric = "diufFeEgGxXo".indexOf(type) >= 0;
        if (numeric && !PyOps.isNumber(value)) {
            throw JinjaError.render("%" + type + " format: a real number is required, not " + PyOps.typeName(value));
        }
        body = switch (type) {
            case 's' -> PyText.str(value);
            case 'r', 'a' -> PyText.repr(value);
            case 'c' -> value instanceof Long l ? Character.toString(l.intValue()) : PyText.str(value);
            case 'd', 'i', 'u' -> Long.toString(value instanceof Double d ? (long) (double) d : PyOps.asLong(value));
            case 'x', 'X', 'o' -> integerBase(value, type, flags.contains("#"));
            default -> real(PyOps.asDouble(value), type, precision == null ? 6 : precision, flags.contains("#"));
        };
        if (precision != null && (type == 's' || type == 'r')) {
            body = new String(PyText.codePoints(body), 0, Math.min(precision, PyText.length(body)));
        }
        if (numeric && !body.startsWith("-")) {
            if (flags.contains("+")) body = "+" + body;
            else if (flags.contains(" ")) body = " " + body;
        }
        int pad = width - PyText.length(body);
        if (pad <= 0) return body;
        if (flags.contains("-")) return body + " ".repeat(pad);
        if (flags.contains("0") && numeric) {
            int sign = body.startsWith("-") || body.startsWith("+") || body.startsWith(" ") ? 1 : 0;
            return body.substring(0, sign) + "0".repeat(pad) + body.substring(sign);
        }
        return " ".repeat(pad) + body;
    }

    private static String integerBase(Object value, char type, boolean alternate) {
        long v = value instanceof Double d ? (long) (double) d : PyOps.asLong(value);
        String digits = Long.toString(Math.abs(v), type == 'o' ? 8 : 16);
        if (type == 'X') digits = digits.toUpperCase(java.util.Locale.ROOT);
        String prefix = alternate ? (type == 'o' ? "0o" : type == 'x' ? "0x" : "0X") : "";
        return (v < 0 ? "-" : "") + prefix + digits;
    }

    /** %f %e %g for one float, as Python prints them (nan, inf; %g drops trailing zeros). */
    static String real(double v, char type, int precision, boolean alternate) {
        boolean upper = Character.isUpperCase(type);
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            String s = Double.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
            return upper ? s.toUpperCase(java.util.Locale.ROOT) : s;
        }
        String s = switch (Character.toLowerCase(type)) {
            case 'f' -> new BigDecimal(v).setScale(precision, RoundingMode.HALF_EVEN).toPlainString();
            case 'e' -> exponential(v, precision);
            default -> general(v, precision == 0 ? 1 : precision, alternate);
        };
        if (v == 0 && 1 / v < 0 && !s.startsWith("-")) s = "-" + s;
        return upper ? s.toUpperCase(java.util.Locale.ROOT) : s;
    }

    private static String exponential(double v, int precision) {
        if (v == 0) return (precision > 0 ? "0." + "0".repeat(precision) : "0") + "e+00";
        BigDecimal r = new BigDecimal(v).round(new MathContext(precision + 1, RoundingMode.HALF_EVEN));
        int exponent = r.precision() - r.scale() - 1;
        String digits = r.unscaledValue().abs().toString();
        digits = (digits + "0".repeat(precision + 1)).substring(0, precision + 1);
        String mantissa = digits.charAt(0) + (precision > 0 ? "." + digits.substring(1) : "");
        String e = Integer.toString(Math.abs(exponent));
        return (v < 0 ? "-" : "") + mantissa + (exponent < 0 ? "e-" : "e+") + (e.length() < 2 ? "0" : "") + e;
    }

    private static String general(double v, int precision, boolean alternate) {
        if (v == 0) return alternate ? "0." + "0".repeat(precision - 1) : "0";
        BigDecimal r = new BigDecimal(v).round(new MathContext(precision, RoundingMode.HALF_EVEN));
        int exponent = r.precision() - r.scale() - 1;
        String s = exponent >= -4 && exponent < precision
                ? r.setScale(Math.max(0, precision - 1 - exponent), RoundingMode.HALF_EVEN).toPlainString()
                : exponential(v, precision - 1);
        if (alternate) return s;
        int e = s.indexOf('e');
        String mantissa = e < 0 ? s : s.substring(0, e), rest = e < 0 ? "" : s.substring(e);
        if (mantissa.contains(".")) mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
        return mantissa + rest;
    }

    private static final Pattern BRACE_FIELD = Pattern.compile("\\{([^{}!:]*)(?:!([rsa]))?(?::([^{}]*))?}");
    private static final Pattern SPEC =
            Pattern.compile("(?:(.)?([<>^=]))?([-+ ])?(#)?(0)?(\\d+)?(?:\\.(\\d+))?([sdfFeEgGxXo%])?");

    /** str.format with automatic, numbered and named fields, conversions and simple specs. */
    static String braces(String format, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder out = new StringBuilder();
        int auto = 0, i = 0;
        while (i < format.length()) {
            char c = format.charAt(i);
            if ((c == '{' || c == '}') && i + 1 < format.length() && format.charAt(i + 1) == c) {
                out.append(c);
                i += 2;
                continue;
            }
            if (c == '}') throw JinjaError.render("Single '}' encountered in format string");
            if (c != '{') {
                out.append(c);
                i++;
                continue;
            }
            Matcher m = BRACE_FIELD.matcher(format).region(i, format.length());
            if (!m.lookingAt()) throw JinjaError.render("unsupported or unmatched '{' in format string");
            String field = m.group(1);
            Object value;
            if (field.isEmpty()) value = argument(args, auto++);
            else if (field.chars().allMatch(Character::isDigit)) value = argument(args, Integer.parseInt(field));
            else if (kwargs.containsKey(field)) value = kwargs.get(field);
            else throw JinjaError.render("KeyError: " + PyText.repr(field));
            if ("r".equals(m.group(2)) || "a".equals(m.group(2))) value = PyText.repr(value);
            else if ("s".equals(m.group(2))) value = PyText.str(value);
            out.append(spec(value, m.group(3) == null ? "" : m.group(3)));
            i = m.end();
        }
        return out.toString();
    }

    private static Object argument(List<Object> args, int index) {
        if (index >= args.size()) throw JinjaError.render("Replacement index " + index + " out of range for positional args tuple");
        return args.get(index);
    }

    private static String spec(Object value, String spec) {
        if (spec.isEmpty()) return PyText.str(value);
        Matcher m = SPEC.matcher(spec);
        if (!m.matches()) throw JinjaError.render("Invalid format specifier '" + spec + "'");
        char type = m.group(8) == null ? (PyOps.isString(value) ? 's' : value instanceof Double ? 'g' : 'd') : m.group(8).charAt(0);
        Integer precision = m.group(7) == null ? null : Integer.parseInt(m.group(7));
        String body;
        if (type == '%') {
            body = real(PyOps.asDouble(value) * 100, 'f', precision == null ? 6 : precision, false) + "%";
        } else if (type == 'g' && precision == null && value instanceof Double d) {
            body = PyText.floatRepr(d);
        } else {
            String flags = (m.group(3) == null ? "" : m.group(3)) + (m.group(4) == null ? "" : "#");
            body = convert(value, type, flags, 0, precision);
        }
        int width = m.group(6) == null ? 0 : Integer.parseInt(m.group(6));
        String fill = m.group(1) != null ? m.group(1) : m.group(5) != null ? "0" : " ";
        char align = m.group(2) != null ? m.group(2).charAt(0)
                : m.group(5) != null ? '=' : PyOps.isString(value) ? '<' : '>';
        int pad = width - PyText.length(body);
        if (pad <= 0) return body;
        return switch (align) {
            case '<' -> body + fill.repeat(pad);
            case '^' -> fill.repeat(pad / 2) + body + fill.repeat(pad - pad / 2);
            case '=' -> {
                int sign = body.startsWith("-") || body.startsWith("+") || body.startsWith(" ") ? 1 : 0;
                yield body.substring(0, sign) + fill.repeat(pad) + body.substring(sign);
            }
            default -> fill.repeat(pad) + body;
        };
    }
}
