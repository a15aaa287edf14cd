package dev.specula.tokenizer.chat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * jinja2's built-in filters with their Python behaviour, plus transformers' {@code tojson}.
 * Filters that only make sense for HTML pages or randomness (urlize, random, filesizeformat...)
 * are left out; a template naming one fails to parse with a clear message.
 */
final class JinjaFilters {
    private JinjaFilters() {}

    @FunctionalInterface
    interface Filter {
        Object apply(Object value, List<Object> args, Map<String, Object> kwargs);
    }

    private static final Map<String, Filter> FILTERS = new java.util.HashMap<>();
    private static final Pattern WORD_BEGINNING = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);
    /** jinja2's default truncate.leeway policy. */
    private static final int TRUNCATE_LEEWAY = 5;

    static boolean exists(String name) {
        return FILTERS.containsKey(name);
    }

    static Object apply(String name, Object value, List<Object> args, Map<String, Object> kwargs) {
        Filter f = FILTERS.get(name);
        if (f == null) throw JinjaError.render("no filter named '" + name + "'");
        return f.apply(value, args, kwargs);
    }

    /** soft_str: Markup stays Markup, everything else becomes its Python str(). */
    private static Object softStr(Object v) {
        return v instanceof Markup ? v : PyText.str(v);
    }

    private static String str(Object v) {
        return PyText.str(v);
    }

    static {
        FILTERS.put("tojson", PyJson::dumps);
        FILTERS.put("safe", (v, a, k) -> v instanceof Markup ? v : new Markup(str(v)));
        Filter escape = (v, a, k) -> v instanceof Markup ? v : new Markup(Markup.escape(str(v)));
        FILTERS.put("escape", escape);
        FILTERS.put("e", escape);
        FILTERS.put("forceescape", (v, a, k) -> new Markup(Markup.escape(str(v))));
        FILTERS.put("string", (v, a, k) -> softStr(v));
        FILTERS.put("trim", (v, a, k) -> PyText.strip(str(v), Args.bind("trim", a, k, "chars").string(0, null), true, true));
        FILTERS.put("upper", (v, a, k) -> PyText.upper(str(v)));
        FILTERS.put("lower", (v, a, k) -> PyText.lower(str(v)));
        FILTERS.put("capitalize", (v, a, k) -> PyText.capitalize(str(v)));
        FILTERS.put("title", (v, a, k) -> title(str(v)));
        FILTERS.put("center", (v, a, k) -> PyMethods.pad(str(v), (int) Args.bind("center", a, k, "width").integer(0, 80), " ", "center"));
        FILTERS.put("replace", (v, a, k) -> {
            Args x = Args.bind("replace", a, k, "old", "new", "count");
            Object count = x.get(2, null);
            return PyMethods.replace(str(v), str(x.required(0)), str(x.required(1)), count == null ? -1 : PyOps.asLong(count));
        });
        FILTERS.put("indent", JinjaFilters::indent);
        FILTERS.put("truncate", JinjaFilters::truncate);
        FILTERS.put("wordcount", (v, a, k) -> WORD.matcher(str(v)).results().count());
        FILTERS.put("format", (v, a, k) -> {
            if (!a.isEmpty() && !k.isEmpty()) throw JinjaError.render("can't handle positional and keyword arguments at the same time");
            return PyFormat.percent(str(v), k.isEmpty() ? new PyTuple(a) : new LinkedHashMap<Object, Object>(k));
        });
        Filter length = (v, a, k) -> PyOps.len(v);
        FILTERS.put("length", length);
        FILTERS.put("count", length);
        Filter fallback = (v, a, k) -> {
            Args x = Args.bind("default", a, k, "default_value", "boolean");
            boolean useDefault = v instanceof Undefined || (x.bool(1, false) && !PyOps.truthy(v));
            return useDefault ? x.get(0, "") : v;
        };
        FILTERS.put("default", fallback);
        FILTERS.put("d", fallback);
        FILTERS.put("list", (v, a, k) -> PyOps.iterate(v));
        FILTERS.put("items", (v, a, k) -> {
            if (v instanceof Undefined) return new ArrayList<>();
            if (v instanceof Map<?, ?> m) return PyOps.items(m);
            throw JinjaError.render("Can only get item pairs from a mapping.");
        });
        FILTERS.put("first", (v, a, k) -> {
            List<Object> items = PyOps.iterate(v);
            return items.isEmpty() ? Undefined.of("No first item, sequence was empty.") : items.get(0);
        });
        FILTERS.put("last", (v, a, k) -> {
            List<Object> items = PyOps.iterate(v);
            return items.isEmpty() ? Undefined.of("No last item, sequence was empty.") : items.get(items.size() - 1);
        });
        FILTERS.put("reverse", (v, a, k) -> {
            if (PyOps.isString(v)) return new StringBuilder(PyOps.text(v)).reverse().toString();
            List<Object> items = PyOps.iterate(v);
            java.util.Collections.reverse(items);
            return items;
        });
        FILTERS.put("join", (v, a, k) -> {
            Args x = Args.bind("join", a, k, "d", "attribute");
            List<Object> items = attributeValues(PyOps.iterate(v), x.get(1, null));
            StringBuilder b = new StringBuilder();
            String sep = str(x.get(0, ""));
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) b.append(sep);
                b.append(str(items.get(i)));
            }
            return b.toString();
        });
        FILTERS.put("int", JinjaFilters::toInt);
        FILTERS.put("float", (v, a, k) -> {
            Object fallbackValue = Args.bind("float", a, k, "default").get(0, 0.0);
            Double d = parseFloat(v);
            return d == null ? fallbackValue : d;
        });
        FILTERS.put("abs", (v, a, k) -> {
            if (v instanceof Double d) return Math.abs(d);
            if (PyOps.isNumber(v)) return Math.abs(PyOps.asLong(v));
            throw JinjaError.render("bad operand type for abs(): '" + PyOps.typeName(v) + "'");
        });
        FILTERS.put("round", JinjaFilters::round);
        FILTERS.put("sum", (v, a, k) -> {
            Args x = Args.bind("sum", a, k, "attribute", "start");
            Object total = x.get(1, 0L);
            for (Object item : attributeValues(PyOps.iterate(v), x.get(0, null))) total = PyOps.add(total, item);
            return total;
        });
        FILTERS.put("min", (v, a, k) -> extreme(v, a, k, "min"));
        FILTERS.put("max", (v, a, k) -> extreme(v, a, k, "max"));
        FILTERS.put("unique", JinjaFilters::unique);
        FILTERS.put("sort", JinjaFilters::sort);
        FILTERS.put("dictsort", JinjaFilters::dictsort);
        FILTERS.put("batch", JinjaFilters::batch);
        FILTERS.put("attr", (v, a, k) -> {
            String name = str(Args.bind("attr", a, k, "name").required(0));
            Object bound = v instanceof Namespace || v instanceof LoopContext ? PyOps.getAttr(v, name) : PyMethods.bind(v, name);
            return bound == null ? Undefined.attribute(v, name) : bound;
        });
        FILTERS.put("map", JinjaFilters::map);
        FILTERS.put("select", (v, a, k) -> select(v, a, false, false));
        FILTERS.put("reject", (v, a, k) -> select(v, a, true, false));
        FILTERS.put("selectattr", (v, a, k) -> select(v, a, false, true));
        FILTERS.put("rejectattr", (v, a, k) -> select(v, a, true, true));
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder();
        Matcher m = WORD_BEGINNING.matcher(s);
        int last = 0;
        List<String> pieces = new ArrayList<>();
        while (m.find()) {
            pieces.add(s.substring(last, m.start()));
            pieces.add(m.group());
            last = m.end();
        }
        pieces.add(s.substring(last));
        for (String piece : pieces) {
            if (piece.isEmpty()) continue;
            int first = piece.codePointAt(0);
            b.append(PyText.upper(Character.toString(first))).append(PyText.lower(piece.substring(Character.charCount(first))));
        }
        return b.toString();
    }

    private static Object indent(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("indent", a, k, "width", "first", "blank");
        Object width = x.get(0, 4L);
        String pad = PyOps.isString(width) ? PyOps.text(width) : " ".repeat((int) Math.max(0, PyOps.asLong(width)));
        List<Object> lines = PyText.splitLines(str(v) + "\n");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            String line = (String) lines.get(i);
            if (i > 0) b.append('\n');
            boolean indentThis = i == 0 ? x.bool(1, false) : x.bool(2, false) || !line.isEmpty();
            b.append(indentThis ? pad : "").append(line);
        }
        return b.toString();
    }

    private static Object truncate(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("truncate", a, k, "length", "killwords", "end", "leeway");
        String s = str(v), end = x.string(2, "...");
        int length = (int) x.integer(0, 255), leeway = (int) x.integer(3, TRUNCATE_LEEWAY);
        int[] cps = PyText.codePoints(s);
        if (cps.length <= length + leeway) return s;
        int keep = Math.max(0, length - PyText.length(end));
        String head = PyText.fromCodePoints(cps, 0, Math.min(keep, cps.length));
        if (x.bool(1, false)) return head + end;
        int space = head.lastIndexOf(' ');
        return (space >= 0 ? head.substring(0, space) : head) + end;
    }

    private static Object toInt(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("int", a, k, "default", "base");
        Object fallback = x.get(0, 0L);
        int base = (int) x.integer(1, 10);
        if (v instanceof Long || v instanceof Boolean) return PyOps.asLong(v);
        if (v instanceof Double d) return Double.isFinite(d) ? (long) (double) d : fallback;
        if (PyOps.isString(v)) {
            String s = PyText.strip(PyOps.text(v), null, true, true).replace("_", "");
            try {
                if (base == 16 && s.toLowerCase(java.util.Locale.ROOT).startsWith("0x")) s = s.substring(2);
                return Long.parseLong(s.startsWith("+") ? s.substring(1) : s, base);
            } catch (NumberFormatException e) {
                Double d = parseFloat(v);
                return d == null || !Double.isFinite(d) ? fallback : (long) (double) d;
            }
        }
        return fallback;
    }

    /** Python's float() of a value, or null where it raises. */
    private static Double parseFloat(Object v) {
        if (v instanceof Double d) return d;
        if (PyOps.isNumber(v)) return (double) PyOps.asLong(v);
        if (!PyOps.isString(v)) return null;
        String s = PyText.strip(PyOps.text(v), null, true, true).toLowerCase(java.util.Locale.ROOT);
        switch (s.replaceFirst("^[+-]", "")) {
            case "inf", "infinity" -> {
                return s.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            }
            case "nan" -> {
                return Double.NaN;
            }
            default -> {
            }
        }
        if (!s.matches("[+-]?(\\d(_?\\d)*)?(\\.(\\d(_?\\d)*)?)?(e[+-]?\\d(_?\\d)*)?") || !s.matches(".*\\d.*")) return null;
        return Double.parseDouble(s.replace("_", ""));
    }

    private static Object round(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("round", a, k, "precision", "method");
        int precision = (int) x.integer(0, 0);
        String method = x.string(1, "common");
        if (!PyOps.isNumber(v)) throw JinjaError.render("type " + PyOps.typeName(v) + " doesn't define __round__ method");
        if (method.equals("common")) {
            if (v instanceof Double d) return PyOps.round(d, precision);
            return precision >= 0 ? PyOps.asLong(v) : (long) PyOps.round(PyOps.asLong(v), precision);
        }
        if (!method.equals("ceil") && !method.equals("floor")) {
            throw JinjaError.render("method must be common, ceil or floor");
        }
        double scale = Math.pow(10, precision), d = PyOps.asDouble(v) * scale;
        return (method.equals("ceil") ? Math.ceil(d) : Math.floor(d)) / scale;
    }

    // ---- sequences of items and their attributes ----------------------------------------------

    /** jinja2's make_attrgetter: "a.b.0" looks up item a, then b, then element 0 of each value. */
    private static Object attribute(Object item, Object attribute, Object fallback) {
        if (attribute == null) return item;
        Object v = item;
        List<Object> parts = attribute instanceof Long ? List.of(attribute) : new ArrayList<>(List.of(str(attribute).split("\\.")));
        for (Object part : parts) {
            Object key = part instanceof String s && s.matches("\\d+") ? (Object) Long.parseLong(s) : part;
            v = PyOps.getItem(v, key);
        }
        return v instanceof Undefined && fallback != PyOps.MISSING ? fallback : v;
    }

    private static List<Object> attributeValues(List<Object> items, Object attribute) {
        if (attribute == null) return items;
        List<Object> out = new ArrayList<>(items.size());
        for (Object item : items) out.add(attribute(item, attribute, PyOps.MISSING));
        return out;
    }

    /** The sort key: strings folded to lower case unless case_sensitive. */
    private static Object sortKey(Object v, boolean caseSensitive) {
        return !caseSensitive && PyOps.isString(v) ? PyText.lower(PyOps.text(v)) : v;
    }

    private static Comparator<Object> order(Object attribute, boolean caseSensitive) {
        return (x, y) -> PyOps.compare(sortKey(attribute(x, attribute, PyOps.MISSING), caseSensitive),
                sortKey(attribute(y, attribute, PyOps.MISSING), caseSensitive), "<");
    }

    private static Object sort(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("sort", a, k, "reverse", "case_sensitive", "attribute");
        List<Object> items = PyOps.iterate(v);
        Object attribute = x.get(2, null);
        boolean caseSensitive = x.bool(1, false);
        Comparator<Object> order;
        if (attribute != null && PyOps.isString(attribute) && PyOps.text(attribute).contains(",")) {
            order = (p, q) -> 0;
            for (String part : PyOps.text(attribute).split(",")) order = order.thenComparing(order(part.strip(), caseSensitive));
        } else {
            order = order(attribute, caseSensitive);
        }
        items.sort(x.bool(0, false) ? order.reversed() : order);
        return items;
    }

    private static Object dictsort(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("dictsort", a, k, "case_sensitive", "by", "reverse");
        if (!(v instanceof Map<?, ?> m)) throw JinjaError.render("dictsort needs a mapping");
        String by = x.string(1, "key");
        if (!by.equals("key") && !by.equals("value")) throw JinjaError.render("You can only sort by either \"key\" or \"value\"");
        int pos = by.equals("key") ? 0 : 1;
        boolean caseSensitive = x.bool(0, false);
        List<Object> items = PyOps.items(m);
        Comparator<Object> order = (p, q) -> PyOps.compare(sortKey(((List<?>) p).get(pos), caseSensitive),
                sortKey(((List<?>) q).get(pos), caseSensitive), "<");
        items.sort(x.bool(2, false) ? order.reversed() : order);
        return items;
    }

    private static Object unique(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("unique", a, k, "case_sensitive", "attribute");
        List<Object> seen = new ArrayList<>(), out = new ArrayList<>();
        for (Object item : PyOps.iterate(v)) {
            Object key = sortKey(attribute(item, x.get(1, null), PyOps.MISSING), x.bool(0, false));
            if (seen.stream().noneMatch(s -> PyOps.eq(s, key))) {
                seen.add(key);
                out.add(item);
            }
        }
        return out;
    }

    private static Object extreme(Object v, List<Object> a, Map<String, Object> k, String which) {
        Args x = Args.bind(which, a, k, "case_sensitive", "attribute");
        List<Object> items = PyOps.iterate(v);
        if (items.isEmpty()) return Undefined.of("No aggregated item, sequence was empty.");
        Comparator<Object> order = order(x.get(1, null), x.bool(0, false));
        Object best = items.get(0);
        for (Object item : items) {
            int c = order.compare(item, best);
            if (which.equals("min") ? c < 0 : c > 0) best = item;
        }
        return best;
    }

    private static Object batch(Object v, List<Object> a, Map<String, Object> k) {
        Args x = Args.bind("batch", a, k, "linecount", "fill_with");
        int size = (int) x.integer(0, 1);
        if (size <= 0) throw JinjaError.render("batch size must be positive");
        List<Object> out = new ArrayList<>(), current = new ArrayList<>();
        for (Object item : PyOps.iterate(v)) {
            current.add(item);
            if (current.size() == size) {
                out.add(current);
                current = new ArrayList<>();
            }
        }
        if (!current.isEmpty()) {
            if (x.has(1) && x.get(1, null) != null) while (current.size() < size) current.add(x.get(1, null));
            out.add(current);
        }
        return out;
    }

    private static Object map(Object v, List<Object> a, Map<String, Object> k) {
        List<Object> items = PyOps.iterate(v);
        List<Object> out = new ArrayList<>(items.size());
        if (k.containsKey("attribute")) {
            Object fallback = k.containsKey("default") ? k.get("default") : PyOps.MISSING;
            for (Object item : items) out.add(attribute(item, k.get("attribute"), fallback));
            return out;
        }
        if (a.isEmpty()) throw JinjaError.render("map requires a filter argument");
        String name = str(a.get(0));
        if (!exists(name)) throw JinjaError.render("no filter named '" + name + "'");
        for (Object item : items) out.add(apply(name, item, a.subList(1, a.size()), k));
        return out;
    }

    private static Object select(Object v, List<Object> a, boolean reject, boolean byAttribute) {
        int first = byAttribute ? 1 : 0;
        if (byAttribute && a.isEmpty()) throw JinjaError.render("selectattr/rejectattr need an attribute name");
        Object attribute = byAttribute ? a.get(0) : null;
        String test = a.size() > first ? str(a.get(first)) : null;
        List<Object> testArgs = a.size() > first + 1 ? a.subList(first + 1, a.size()) : List.of();
        List<Object> out = new ArrayList<>();
        for (Object item : PyOps.iterate(v)) {
            Object value = attribute(item, attribute, PyOps.MISSING);
            boolean pass = test == null ? PyOps.truthy(value) : JinjaTests.apply(test, value, testArgs);
            if (pass != reject) out.add(item);
        }
        return out;
    }
}
