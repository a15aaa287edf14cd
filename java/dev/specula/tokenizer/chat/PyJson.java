package dev.specula.tokenizer.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps} as transformers' {@code tojson} filter calls it: no HTML escaping,
 * {@code ensure_ascii=False} unless asked, Python's default separators ({@code ", "} and
 * {@code ": "}, or {@code ","} between items when indenting), optional indent and sort_keys.
 */
final class PyJson {
    private final String indent;
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;
    private final boolean ensureAscii;
    private final StringBuilder out = new StringBuilder();

    private PyJson(String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        this.indent = indent;
        this.itemSeparator = itemSeparator;
        this.keySeparator = keySeparator;
        this.sortKeys = sortKeys;
        this.ensureAscii = ensureAscii;
    }

    /** The tojson filter: tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
    static String dumps(Object value, List<Object> args, Map<String, Object> kwargs) {
        Args a = Args.bind("tojson", args, kwargs, "ensure_ascii", "indent", "separators", "sort_keys");
        Object indentArg = a.get(1, null);
        String indent = switch (indentArg) {
            case null -> null;
            case Long n -> " ".repeat((int) Math.max(0, n));
            case String s -> s;
            default -> throw JinjaError.render("indent must be an int or a string, not " + PyOps.typeName(indentArg));
        };
        String item = indent == null ? ", " : ",", key = ": ";
        Object separators = a.get(2, null);
        if (separators != null) {
            if (!(separators instanceof List<?> l) || l.size() != 2 || !PyOps.isString(l.get(0)) || !PyOps.isString(l.get(1))) {
                throw JinjaError.render("separators must be a pair of strings");
            }
            item = PyOps.text(l.get(0));
            key = PyOps.text(l.get(1));
        }
        PyJson json = new PyJson(indent, item, key, a.bool(3, false), a.bool(0, false));
        json.write(value, 0);
        return json.out.toString();
    }

    private void write(Object v, int depth) {
        switch (v) {
            case null -> out.append("null");
            case Boolean b -> out.append(b ? "true" : "false");
            case Long l -> out.append(l);
            case Double d -> out.append(number(d));
            case String s -> string(s);
            case Markup m -> string(m.text());
            case List<?> l -> array(l, depth);
            case Map<?, ?> m -> object(m, depth);
            default -> throw JinjaError.render("Object of type " + PyOps.typeName(v) + " is not JSON serializable");
        }
    }

    private static String number(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        return PyText.floatRepr(d);
    }

    private void newline(int depth) {
        if (indent != null) out.append('\n').append(indent.repeat(depth));
    }

    private void array(List<?> l, int depth) {
        if (l.isEmpty()) {
            out.append("[]");
            return;
        }
        out.append('[');
        for (int i = 0; i < l.size(); i++) {
            if (i > 0) out.append(itemSeparator);
            newline(depth + 1);
            write(l.get(i), depth + 1);
        }
        newline(depth);
        out.append(']');
    }

    private void object(Map<?, ?> m, int depth) {
        if (m.isEmpty()) {
            out.append("{}");
            return;
        }
        List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
        if (sortKeys) entries.sort((x, y) -> PyOps.compare(x.getKey(), y.getKey(), "<"));
        out.append('{');
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) out.append(itemSeparator);
            newline(depth + 1);
            string(key(entries.get(i).getKey()));
            out.append(keySeparator);
            write(entries.get(i).getValue(), depth + 1);
        }
        newline(depth);
        out.append('}');
    }

    /** json.dumps turns str, int, float, bool and None keys into strings and refuses others. */
    private static String key(Object k) {
        return switch (k) {
            case String s -> s;
            case Markup m -> m.text();
            case null -> "null";
            case Boolean b -> b ? "true" : "false";
            case Long l -> l.toString();
            case Double d -> number(d);
            default -> throw JinjaError.render("keys must be str, int, float, bool or None, not " + PyOps.typeName(k));
        };
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }
}
