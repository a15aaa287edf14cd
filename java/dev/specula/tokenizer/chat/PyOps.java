package dev.specula.tokenizer.chat;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python's semantics for the values a chat template sees: None (null), bool, int (Long),
 * float (Double), str (String, or {@link Markup}), list, tuple ({@link PyTuple}), dict (Map),
 * plus jinja2's {@link Undefined}. Truth, equality, ordering, arithmetic, membership, length and
 * iteration behave as in CPython, errors included, so a template fails where jinja2 fails.
 */
final class PyOps {
    private PyOps() {}

    /** Largest string or list a template may build by repetition, against runaway memory use. */
    static final int MAX_REPEAT_LENGTH = 16 << 20;

    /** Python's type name, as error messages print it. */
    static String typeName(Object v) {
        return switch (v) {
            case null -> "NoneType";
            case Boolean b -> "bool";
            case Long l -> "int";
            case Double d -> "float";
            case String s -> "str";
            case Markup m -> "Markup";
            case PyTuple t -> "tuple";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Undefined u -> "Undefined";
            case Namespace n -> "Namespace";
            case LoopContext l -> "LoopContext";
            case PyCallable c -> "function";
            default -> v.getClass().getSimpleName();
        };
    }

    /** jinja2's object_type_repr: "'dict object'", or "None" for None. */
    static String ownerDescription(Object v) {
        return v == null ? "None" : "'" + typeName(v) + " object'";
    }

    static boolean isString(Object v) {
        return v instanceof String || v instanceof Markup;
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static String text(Object v) {
        return v instanceof Markup m ? m.text() : (String) v;
    }

    static boolean truthy(Object v) {
        return switch (v) {
            case null -> false;
            case Boolean b -> b;
            case Long l -> l != 0;
            case Double d -> d != 0;
            case String s -> !s.isEmpty();
            case Markup m -> !m.text().isEmpty();
            case Collection<?> c -> !c.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            case Undefined u -> false;
            default -> true;
        };
    }

    // ---- equality and ordering -------------------------------------------------------------

    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return asDouble(a) == asDouble(b);
            return asLong(a) == asLong(b);
        }
        if (isString(a) && isString(b)) return text(a).equals(text(b));
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (a instanceof PyTuple != b instanceof PyTuple) return false;
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                Object key = findKey(y, e.getKey());
                if (key == MISSING || !eq(e.getValue(), y.get(key))) return false;
            }
            return true;
        }
        return a.equals(b);
    }

    /** Python's ordering (&lt; and friends) for numbers, strings and sequences; else TypeError. */
    static int compare(Object a, Object b, String op) {
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return Double.compare(asDouble(a), asDouble(b));
            return Long.compare(asLong(a), asLong(b));
        }
        if (isString(a) && isString(b)) return compareCodePoints(text(a), text(b));
        if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof PyTuple) == (b instanceof PyTuple)) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (!eq(x.get(i), y.get(i))) return compare(x.get(i), y.get(i), op);
            }
            return Integer.compare(x.size(), y.size());
        }
        if (a instanceof Undefined u) throw u.error();
        if (b instanceof Undefined u) throw u.error();
        throw JinjaError.render("'" + op + "' not supported between instances of '" + typeName(a)
                + "' and '" + typeName(b) + "'");
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int x = a.codePointAt(i), y = b.codePointAt(j);
            if (x != y) return Integer.compare(x, y);
            i += Character.charCount(x);
            j += Character.charCount(y);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    }

    // ---- numbers ----------------------------------------------------------------------------

    static long asLong(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : (Long) v;
    }

    static double asDouble(Object v) {
        return v instanceof Double d ? d : asLong(v);
    }

    private static JinjaError unsupported(String op, Object a, Object b) {
        if (a instanceof Undefined u) return u.error();
        if (b instanceof Undefined u) return u.error();
        return JinjaError.render("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    static Object add(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return asDouble(a) + asDouble(b);
            return exact(() -> Math.addExact(asLong(a), asLong(b)));
        }
        if (a instanceof Markup || b instanceof Markup) {
            if (isString(a) && isString(b)) return new Markup(markupText(a) + markupText(b));
        }
        if (a instanceof String x && b instanceof String y) return x + y;
        if (a instanceof PyTuple x && b instanceof PyTuple y) return new PyTuple(concat(x, y));
        if (a instanceof List<?> x && b instanceof List<?> y && !(a instanceof PyTuple) && !(b instanceof PyTuple)) {
            return concat(x, y);
        }
        if (a instanceof Undefined || b instanceof Undefined) throw unsupported("+", a, b);
        if (a instanceof String || a instanceof List<?>) {
            String kind = a instanceof String ? "str" : typeName(a);
            throw JinjaError.render("can only concatenate " + kind + " (not \"" + typeName(b) + "\") to " + kind);
        }
        throw unsupported("+", a, b);
    }

    private static String markupText(Object v) {
        return v instanceof Markup m ? m.text() : Markup.escape((String) v);
    }

    private static List<Object> concat(List<?> x, List<?> y) {
        List<Object> out = new ArrayList<>(x.size() + y.size());
        out.addAll(x);
        out.addAll(y);
        return out;
    }

    static Object sub(Object a, Object b) {
        if (!isNumber(a) || !isNumber(b)) throw unsupported("-", a, b);
        if (a instanceof Double || b instanceof Double) return asDouble(a) - asDouble(b);
        return exact(() -> Math.subtractExact(asLong(a), asLong(b)));
    }

    static Object mul(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) return asDouble(a) * asDouble(b);
            return exact(() -> Math.multiplyExact(asLong(a), asLong(b)));
        }
        if ((a instanceof Long || a instanceof Boolean) && !isNumber(b)) return mul(b, a);
        if ((b instanceof Long || b instanceof Boolean) && (isString(a) || a instanceof List<?>)) {
            long n = Math.max(0, asLong(b));
            long size = (a instanceof List<?> l ? l.size() : text(a).length()) * n;
            if (size > MAX_REPEAT_LENGTH) throw JinjaError.render("repetition result too large (" + size + ")");
            if (a instanceof String s) return s.repeat((int) n);
            if (a instanceof Markup m) return new Markup(m.text().repeat((int) n));
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < n; i++) out.addAll((List<?>) a);
            return a instanceof PyTuple ? new PyTuple(out) : out;
        }
        throw unsupported("*", a, b);
    }

    static Object div(Object a, Object b) {
        if (!isNumber(a) || !isNumber(b)) throw unsupported("/", a, b);
        if (asDouble(b) == 0) throw JinjaError.render("division by zero");
        return asDouble(a) / asDouble(b);
    }

    static Object floorDiv(Object a, Object b) {
        if (!isNumber(a) || !isNumber(b)) throw unsupported("//", a, b);
        if (asDouble(b) == 0) throw JinjaError.render("integer division or modulo by zero");
        if (a instanceof Double || b instanceof Double) return Math.floor(asDouble(a) / asDouble(b));
        return Math.floorDiv(asLong(a), asLong(b));
    }

    static Object mod(Object a, Object b) {
        if (isString(a)) return PyFormat.percent(text(a), b);
        if (!isNumber(a) || !isNumber(b)) throw unsupported("%", a, b);
        if (asDouble(b) == 0) throw JinjaError.render("integer division or modulo by zero");
        if (a instanceof Double || b instanceof Double) {
            double x = asDouble(a), y = asDouble(b), r = x % y;
            return (r != 0 && (r < 0) != (y < 0)) ? r + y : r;
        }
        return Math.floorMod(asLong(a), asLong(b));
    }

    static Object pow(Object a, Object b) {
        if (!isNumber(a) || !isNumber(b)) throw unsupported("** or pow()", a, b);
        if (a instanceof Double || b instanceof Double || asLong(b) < 0) return Math.pow(asDouble(a), asDouble(b));
        long base = asLong(a), exp = asLong(b);
        if (base == 0 || base == 1) return exp == 0 ? 1L : base;
        if (base == -1) return exp % 2 == 0 ? 1L : -1L;
        long result = 1; // |base| >= 2 overflows within 63 steps, so the loop is short
        for (long i = 0; i < exp; i++) {
            long r = result;
            result = exact(() -> Math.multiplyExact(r, base));
        }
        return result;
    }

    static Object negate(Object a) {
        if (a instanceof Double d) return -d;
        if (isNumber(a)) return exact(() -> Math.negateExact(asLong(a)));
        if (a instanceof Undefined u) throw u.error();
        throw JinjaError.render("bad operand type for unary -: '" + typeName(a) + "'");
    }

    static Object plus(Object a) {
        if (a instanceof Boolean) return asLong(a);
        if (isNumber(a)) return a;
        if (a instanceof Undefined u) throw u.error();
        throw JinjaError.render("bad operand type for unary +: '" + typeName(a) + "'");
    }

    private static long exact(java.util.function.LongSupplier op) {
        try {
            return op.getAsLong();
        } catch (ArithmeticException e) {
            throw JinjaError.render("integer overflow (Python integers are unbounded; this engine's are 64-bit)");
        }
    }

    /** Python's round(x, n) for floats: exact decimal value, ties to even. */
    static double round(double value, int digits) {
        if (Double.isNaN(value) || Double.isInfinite(value)) return value;
        return new BigDecimal(value).setScale(digits, RoundingMode.HALF_EVEN).doubleValue();
    }

    // ---- containers -------------------------------------------------------------------------

    static final Object MISSING = new Object();

    /** The key object in a dict equal (in Python's sense) to key, or MISSING. */
    static Object findKey(Map<?, ?> map, Object key) {
        if (key instanceof String || key instanceof Long) {
            if (map.containsKey(key)) return key;
            if (key instanceof String) return MISSING;
        }
        for (Object k : map.keySet()) if (eq(k, key)) return k;
        return MISSING;
    }

    static boolean contains(Object container, Object item) {
        return switch (container) {
            case String s -> {
                if (!isString(item)) {
                    throw JinjaError.render("'in <string>' requires string as left operand, not " + typeName(item));
                }
                yield s.contains(text(item));
            }
            case Markup m -> contains(m.text(), item);
            case List<?> l -> l.stream().anyMatch(x -> eq(x, item));
            case Map<?, ?> m -> findKey(m, item) != MISSING;
            case Undefined u -> false;
            case null, default -> throw JinjaError.render("argument of type '" + typeName(container) + "' is not iterable");
        };
    }

    static long len(Object v) {
        return switch (v) {
            case String s -> PyText.length(s);
            case Markup m -> PyText.length(m.text());
            case Collection<?> c -> c.size();
            case Map<?, ?> m -> m.size();
            case Undefined u -> 0;
            case null, default -> throw JinjaError.render("object of type '" + typeName(v) + "' has no len()");
        };
    }

    /** The items a for loop visits: a list's elements, a dict's keys, a string's characters. */
    static List<Object> iterate(Object v) {
        return switch (v) {
            case List<?> l -> new ArrayList<>(l);
            case Map<?, ?> m -> new ArrayList<>(m.keySet());
            case String s -> s.codePoints().mapToObj(Character::toString).collect(ArrayList::new, List::add, List::addAll);
            case Markup m -> iterate(m.text());
            case Undefined u -> new ArrayList<>();
            case null, default -> throw JinjaError.render("'" + typeName(v) + "' object is not iterable");
        };
    }

    static boolean isIterable(Object v) {
        return v instanceof List<?> || v instanceof Map<?, ?> || isString(v) || v instanceof Undefined;
    }

    /** A dict's items as (key, value) tuples, for .items() and |items. */
    static List<Object> items(Map<?, ?> m) {
        List<Object> out = new ArrayList<>(m.size());
        for (Map.Entry<?, ?> e : m.entrySet()) out.add(PyTuple.of(e.getKey(), e.getValue()));
        return out;
    }

    // ---- attribute and item access, as jinja2's sandboxed environment does it ----------------

    /** {@code obj.name}: a method or attribute first, then the item of that name, else Undefined. */
    static Object getAttr(Object obj, String name) {
        if (obj instanceof Undefined u) throw u.error();
        if (name.startsWith("_")) return Undefined.of("access to attribute '" + name + "' of '" + typeName(obj) + "' object is unsafe.");
        switch (obj) {
            case Namespace ns -> {
                return ns.attributes.containsKey(name) ? ns.attributes.get(name) : Undefined.attribute(obj, name);
            }
            case LoopContext loop -> {
                return loop.attribute(name);
            }
            default -> {
            }
        }
        Object method = PyMethods.bind(obj, name);
        if (method != null) return method;
        if (obj instanceof Map<?, ?> m) {
            Object key = findKey(m, name);
            if (key != MISSING) return m.get(key);
        }
        return Undefined.attribute(obj, name);
    }

    /** {@code obj[key]}: the item (with Python's negative indexes and slices), then the attribute. */
    static Object getItem(Object obj, Object key) {
        if (obj instanceof Undefined u) throw u.error();
        if (key instanceof Slice s) return s.apply(obj);
        switch (obj) {
            case Map<?, ?> m -> {
                Object k = findKey(m, key);
                if (k != MISSING) return m.get(k);
            }
            case List<?> l when key instanceof Long || key instanceof Boolean -> {
                long i = asLong(key);
                if (i < 0) i += l.size();
                if (i >= 0 && i < l.size()) return l.get((int) i);
            }
            case String s when key instanceof Long || key instanceof Boolean -> {
                int[] cps = PyText.codePoints(s);
                long i = asLong(key);
                if (i < 0) i += cps.length;
                if (i >= 0 && i < cps.length) return Character.toString(cps[(int) i]);
            }
            case Markup m when key instanceof Long -> {
                Object c = getItem(m.text(), key);
                return c instanceof String s ? new Markup(s) : c;
            }
            case LoopContext loop when key instanceof String s -> {
                return loop.attribute(s);
            }
            case Namespace ns when key instanceof String s -> {
                return getAttr(ns, s);
            }
            default -> {
            }
        }
        if (key instanceof String s) {
            Object attr = s.startsWith("_") ? null : PyMethods.bind(obj, s);
            if (attr != null) return attr;
        }
        return Undefined.element(obj, key);
    }

    /** A Python slice, evaluated; applied to lists, tuples and strings. */
    record Slice(Object start, Object stop, Object step) {
        Object apply(Object obj) {
            if (obj instanceof Markup m) return new Markup((String) apply(m.text()));
            if (obj instanceof String s) {
                int[] cps = PyText.codePoints(s);
                StringBuilder b = new StringBuilder();
                for (int i : indexes(cps.length)) b.appendCodePoint(cps[i]);
                return b.toString();
            }
            if (obj instanceof List<?> l) {
                List<Object> out = new ArrayList<>();
                for (int i : indexes(l.size())) out.add(l.get(i));
                return obj instanceof PyTuple ? new PyTuple(out) : out;
            }
            throw JinjaError.render("'" + typeName(obj) + "' object is not subscriptable");
        }

        private int[] indexes(int length) {
            long st = step == null ? 1 : index(step);
            if (st == 0) throw JinjaError.render("slice step cannot be zero");
            long lo, hi;
            if (st > 0) {
                lo = start == null ? 0 : clamp(index(start), length, 0, length);
                hi = stop == null ? length : clamp(index(stop), length, 0, length);
            } else {
                lo = start == null ? length - 1 : clamp(index(start), length, -1, length - 1);
                hi = stop == null ? -1 : clamp(index(stop), length, -1, length - 1);
            }
            List<Integer> out = new ArrayList<>();
            for (long i = lo; st > 0 ? i < hi : i > hi; i += st) out.add((int) i);
            return out.stream().mapToInt(Integer::intValue).toArray();
        }

        private static long clamp(long i, int length, long min, long max) {
            if (i < 0) i += length;
            return Math.max(min, Math.min(max, i));
        }

        private static long index(Object v) {
            if (v instanceof Long || v instanceof Boolean) return asLong(v);
            throw JinjaError.render("slice indices must be integers or None");
        }
    }

    // ---- values from Java callers -----------------------------------------------------------

    /**
     * Copies a value from the caller (any Number, CharSequence, Collection, array, Map, record
     * of ours) into the engine's representation, so templates see Python-shaped data.
     */
    static Object fromJava(Object v) {
        return switch (v) {
            case null -> null;
            case String s -> s;
            case Boolean b -> b;
            case Long l -> l;
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case Byte b -> (long) b;
            case Double d -> d;
            case Float f -> (double) f;
            case java.math.BigInteger b -> b.longValueExact();
            case BigDecimal b -> b.doubleValue();
            case CharSequence c -> c.toString();
            case Character c -> c.toString();
            case Markup m -> m;
            case Undefined u -> u;
            case PyCallable c -> c;
            case Namespace n -> n;
            case PyTuple t -> t;
            case ChatMessage m -> fromJava(m.fields());
            case ChatToolCall c -> fromJava(c.toMap());
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                m.forEach((k, x) -> out.put(fromJava(k), fromJava(x)));
                yield out;
            }
            case Collection<?> c -> {
                List<Object> out = new ArrayList<>(c.size());
                for (Object x : c) out.add(fromJava(x));
                yield out;
            }
            case Object[] a -> fromJava(java.util.Arrays.asList(a));
            case Enum<?> e -> e.name();
            default -> throw new IllegalArgumentException("a chat template cannot take a " + v.getClass().getName()
                    + " (use strings, numbers, booleans, null, lists and maps)");
        };
    }
}
