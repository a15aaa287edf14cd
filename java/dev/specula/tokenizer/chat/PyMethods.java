package dev.specula.tokenizer.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The methods templates call on values ({@code content.strip()}, {@code message.get('x')},
 * {@code text.split('</think>')}), with Python's behaviour. Methods that would change a list or
 * dict are refused, as jinja2's ImmutableSandboxedEnvironment (what transformers uses) does.
 */
final class PyMethods {
    private PyMethods() {}

    private static final Set<String> LIST_MUTATORS =
            Set.of("append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear");
    private static final Set<String> DICT_MUTATORS = Set.of("update", "pop", "popitem", "setdefault", "clear");

    /** The bound method name of obj, an Undefined for a refused one, or null if there is none. */
    static Object bind(Object obj, String name) {
        if (obj instanceof Markup m) obj = m.text();
        return switch (obj) {
            case String s -> stringMethod(s, name);
            case PyTuple t -> sequenceMethod(t, name);
            case List<?> l -> LIST_MUTATORS.contains(name) ? unsafe(obj, name) : sequenceMethod(l, name);
            case Map<?, ?> m -> DICT_MUTATORS.contains(name) ? unsafe(obj, name) : dictMethod(m, name);
            case null, default -> null;
        };
    }

    private static Undefined unsafe(Object obj, String name) {
        return Undefined.of("access to attribute '" + name + "' of '" + PyOps.typeName(obj) + "' object is unsafe.");
    }

    private static PyCallable dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "get" -> (args, kw) -> {
                Args a = Args.bind("get", args, kw, "key", "default");
                Object key = PyOps.findKey(m, a.required(0));
                return key == PyOps.MISSING ? a.get(1, null) : m.get(key);
            };
            case "items" -> (args, kw) -> {
                Args.bind("items", args, kw);
                return PyOps.items(m);
            };
            case "keys" -> (args, kw) -> {
                Args.bind("keys", args, kw);
                return new ArrayList<Object>(m.keySet());
            };
            case "values" -> (args, kw) -> {
                Args.bind("values", args, kw);
                return new ArrayList<Object>(m.values());
            };
            case "copy" -> (args, kw) -> new java.util.LinkedHashMap<Object, Object>(m);
            default -> null;
        };
    }

    private static PyCallable sequenceMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> (args, kw) -> {
                Object x = Args.bind("index", args, kw, "value").required(0);
                for (int i = 0; i < l.size(); i++) if (PyOps.eq(l.get(i), x)) return (long) i;
                throw JinjaError.render(PyText.repr(x) + " is not in list");
            };
            case "count" -> (args, kw) -> {
                Object x = Args.bind("count", args, kw, "value").required(0);
                return l.stream().filter(y -> PyOps.eq(y, x)).count();
            };
            case "copy" -> (args, kw) -> new ArrayList<Object>(l);
            default -> null;
        };
    }

    private static PyCallable stringMethod(String s, String name) {
        return switch (name) {
            case "strip", "lstrip", "rstrip" -> (args, kw) -> {
                String chars = Args.bind(name, args, kw, "chars").string(0, null);
                return PyText.strip(s, chars, !name.equals("rstrip"), !name.equals("lstrip"));
            };
            case "split", "rsplit" -> (args, kw) -> {
                Args a = Args.bind(name, args, kw, "sep", "maxsplit");
                return PyText.split(s, a.string(0, null), a.integer(1, -1), name.equals("rsplit"));
            };
            case "splitlines" -> (args, kw) -> PyText.splitLines(s);
            case "startswith", "endswith" -> (args, kw) -> {
                Args a = Args.bind(name, args, kw, "prefix", "start", "end");
                String sub = slice(s, a.get(1, null), a.get(2, null));
                Object affix = a.required(0);
                List<Object> options = affix instanceof PyTuple t ? t : List.of(affix);
                for (Object o : options) {
                    if (!PyOps.isString(o)) {
                        throw JinjaError.render(name + " first arg must be str or a tuple of str, not " + PyOps.typeName(o));
                    }
                    String x = PyOps.text(o);
                    if (name.equals("startswith") ? sub.startsWith(x) : sub.endsWith(x)) return true;
                }
                return false;
            };
            case "upper" -> (args, kw) -> PyText.upper(s);
            case "lower" -> (args, kw) -> PyText.lower(s);
            case "title" -> (args, kw) -> PyText.title(s);
            case "capitalize" -> (args, kw) -> PyText.capitalize(s);
            case "replace" -> (args, kw) -> {
                Args a = Args.bind(name, args, kw, "old", "new", "count");
                return replace(s, a.string(0, null), a.string(1, null), a.integer(2, -1));
            };
            case "find", "rfind", "index", "rindex", "count" -> (args, kw) -> {
                Args a = Args.bind(name, args, kw, "sub", "start", "end");
                return search(s, name, PyOps.text(a.required(0)), a.get(1, null), a.get(2, null));
            };
            case "join" -> (args, kw) -> {
                Object items = Args.bind(name, args, kw, "iterable").required(0);
                StringBuilder b = new StringBuilder();
                List<Object> list = PyOps.iterate(items);
                for (int i = 0; i < list.size(); i++) {
                    if (!PyOps.isString(list.get(i))) {
                        throw JinjaError.render("sequence item " + i + ": expected str instance, "
                                + PyOps.typeName(list.get(i)) + " found");
                    }
                    if (i > 0) b.append(s);
                    b.append(PyOps.text(list.get(i)));
                }
                return b.toString();
            };
            case "format" -> (args, kw) -> PyFormat.braces(s, args, kw);
            case "isdigit", "isnumeric", "isdecimal" -> (args, kw) -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> (args, kw) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> (args, kw) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> (args, kw) -> PyText.isAllSpace(s);
            case "islower" -> (args, kw) -> hasCased(s) && s.equals(PyText.lower(s));
            case "isupper" -> (args, kw) -> hasCased(s) && s.equals(PyText.upper(s));
            case "removeprefix" -> (args, kw) -> {
                String p = Args.bind(name, args, kw, "prefix").string(0, "");
                return s.startsWith(p) ? s.substring(p.length()) : s;
            };
            case "removesuffix" -> (args, kw) -> {
                String p = Args.bind(name, args, kw, "suffix").string(0, "");
                return s.endsWith(p) && !p.isEmpty() ? s.substring(0, s.length() - p.length()) : s;
            };
            case "zfill" -> (args, kw) -> {
                long width = Args.bind(name, args, kw, "width").integer(0, 0);
                int pad = (int) Math.max(0, width - PyText.length(s));
                boolean sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
                return sign ? s.charAt(0) + "0".repeat(pad) + s.substring(1) : "0".repeat(pad) + s;
            };
            case "ljust", "rjust", "center" -> (args, kw) -> {
                Args a = Args.bind(name, args, kw, "width", "fillchar");
                return pad(s, (int) a.integer(0, 0), a.string(1, " "), name);
            };
            default -> null;
        };
    }

    private static boolean hasCased(String s) {
        return s.codePoints().anyMatch(c -> Character.isUpperCase(c) || Character.isLowerCase(c));
    }

    static String replace(String s, String old, String replacement, long count) {
        if (count < 0) return s.replace(old, replacement);
        StringBuilder b = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int i = old.isEmpty() ? (from <= s.length() ? from : -1) : s.indexOf(old, from);
            if (i < 0) break;
            b.append(s, from, i).append(replacement);
            if (old.isEmpty()) {
                if (i < s.length()) b.appendCodePoint(s.codePointAt(i));
                from = i + (i < s.length() ? Character.charCount(s.codePointAt(i)) : 1);
            } else {
                from = i + old.length();
            }
        }
        if (from <= s.length()) b.append(s, from, s.length());
        return b.toString();
    }

    static String pad(String s, int width, String fill, String how) {
        if (fill == null || PyText.length(fill) != 1) {
            throw JinjaError.render("The fill character must be exactly one character long");
        }
        int total = width - PyText.length(s);
        if (total <= 0) return s;
        int left = switch (how) {
            case "ljust" -> 0;
            case "rjust" -> total;
            default -> total / 2 + (total & width & 1); // CPython's centering rule
        };
        return fill.repeat(left) + s + fill.repeat(total - left);
    }

    /** The code-point slice s[start:end] with Python's clamping (None means the end). */
    private static String slice(String s, Object start, Object end) {
        if (start == null && end == null) return s;
        return (String) new PyOps.Slice(start, end, null).apply(s);
    }

    private static Object search(String s, String name, String sub, Object start, Object end) {
        int offset = start == null ? 0 : (int) Math.max(0, Math.min(PyText.length(s),
                PyOps.asLong(start) < 0 ? PyOps.asLong(start) + PyText.length(s) : PyOps.asLong(start)));
        String hay = slice(s, start, end);
        if (name.equals("count")) {
            if (sub.isEmpty()) return (long) PyText.length(hay) + 1;
            long n = 0;
            for (int i = hay.indexOf(sub); i >= 0; i = hay.indexOf(sub, i + sub.length())) n++;
            return n;
        }
        int i = name.startsWith("r") ? hay.lastIndexOf(sub) : hay.indexOf(sub);
        if (i < 0) {
            if (name.endsWith("index")) throw JinjaError.render("substring not found");
            return -1L;
        }
        return (long) (offset + hay.codePointCount(0, i));
    }
}
