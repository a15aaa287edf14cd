package dev.specula.tokenizer.chat;

import java.util.List;
import java.util.Map;

/** jinja2's built-in tests ({@code x is defined}, {@code x is string}, {@code x is divisibleby 3}, ...). */
final class JinjaTests {
    private JinjaTests() {}

    @FunctionalInterface
    interface Test {
        boolean test(Object value, List<Object> args);
    }

    private static final Map<String, Test> TESTS = new java.util.HashMap<>();

    static {
        TESTS.put("defined", (v, a) -> !(v instanceof Undefined));
        TESTS.put("undefined", (v, a) -> v instanceof Undefined);
        TESTS.put("none", (v, a) -> v == null);
        TESTS.put("boolean", (v, a) -> v instanceof Boolean);
        TESTS.put("true", (v, a) -> Boolean.TRUE.equals(v));
        TESTS.put("false", (v, a) -> Boolean.FALSE.equals(v));
        TESTS.put("integer", (v, a) -> v instanceof Long);
        TESTS.put("float", (v, a) -> v instanceof Double);
        TESTS.put("number", (v, a) -> PyOps.isNumber(v));
        TESTS.put("string", (v, a) -> PyOps.isString(v));
        TESTS.put("mapping", (v, a) -> v instanceof Map<?, ?>);
        TESTS.put("iterable", (v, a) -> PyOps.isIterable(v));
        TESTS.put("sequence", (v, a) -> v instanceof List<?> || v instanceof Map<?, ?> || PyOps.isString(v) || v instanceof Undefined);
        TESTS.put("callable", (v, a) -> v instanceof PyCallable);
        TESTS.put("escaped", (v, a) -> v instanceof Markup);
        TESTS.put("sameas", (v, a) -> {
            Object other = arg(a, 0, "sameas");
            if (v == null || other == null || v instanceof Boolean || other instanceof Boolean) return v == other || (v != null && v.equals(other));
            return v == other;
        });
        TESTS.put("in", (v, a) -> PyOps.contains(arg(a, 0, "in"), v));
        Test eq = (v, a) -> PyOps.eq(v, arg(a, 0, "eq"));
        for (String n : List.of("eq", "equalto", "==")) TESTS.put(n, eq);
        for (String n : List.of("ne", "!=")) TESTS.put(n, (v, a) -> !eq.test(v, a));
        for (String n : List.of("lt", "lessthan", "<")) TESTS.put(n, (v, a) -> PyOps.compare(v, arg(a, 0, n), "<") < 0);
        for (String n : List.of("le", "<=")) TESTS.put(n, (v, a) -> PyOps.compare(v, arg(a, 0, n), "<=") <= 0);
        for (String n : List.of("gt", "greaterthan", ">")) TESTS.put(n, (v, a) -> PyOps.compare(v, arg(a, 0, n), ">") > 0);
        for (String n : List.of("ge", ">=")) TESTS.put(n, (v, a) -> PyOps.compare(v, arg(a, 0, n), ">=") >= 0);
        TESTS.put("odd", (v, a) -> (Long) PyOps.mod(integer(v), 2L) == 1);
        TESTS.put("even", (v, a) -> (Long) PyOps.mod(integer(v), 2L) == 0);
        TESTS.put("divisibleby", (v, a) -> PyOps.eq(PyOps.mod(v, arg(a, 0, "divisibleby")), 0L));
        TESTS.put("lower", (v, a) -> callStringMethod(v, "islower"));
        TESTS.put("upper", (v, a) -> callStringMethod(v, "isupper"));
        TESTS.put("filter", (v, a) -> PyOps.isString(v) && JinjaFilters.exists(PyOps.text(v)));
        TESTS.put("test", (v, a) -> PyOps.isString(v) && exists(PyOps.text(v)));
    }

    private static boolean callStringMethod(Object v, String method) {
        return PyOps.truthy(((PyCallable) PyMethods.bind(PyText.str(v), method)).call(List.of(), Map.of()));
    }

    private static Object integer(Object v) {
        if (v instanceof Long || v instanceof Boolean) return v;
        throw JinjaError.render("expected an integer, got " + PyOps.typeName(v));
    }

    private static Object arg(List<Object> args, int i, String test) {
        if (args.size() <= i) throw JinjaError.render("test '" + test + "' needs an argument");
        return args.get(i);
    }

    static boolean exists(String name) {
        return TESTS.containsKey(name);
    }

    static boolean apply(String name, Object value, List<Object> args) {
        Test t = TESTS.get(name);
        if (t == null) throw JinjaError.render("no test named '" + name + "'");
        return t.test(value, args);
    }
}
