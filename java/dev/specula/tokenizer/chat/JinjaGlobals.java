package dev.specula.tokenizer.chat;

import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The functions every chat template can call: jinja2's range, dict and namespace, and the two
 * transformers adds, raise_exception (rejects the conversation) and strftime_now (today's date).
 */
final class JinjaGlobals {
    private JinjaGlobals() {}

    /** jinja2's sandbox refuses larger ranges (MAX_RANGE); so do we. */
    static final int MAX_RANGE = 100_000;

    static Map<String, Object> create(Clock clock) {
        Map<String, Object> g = new HashMap<>();
        g.put("raise_exception", (PyCallable) (args, kwargs) -> {
            Object message = Args.bind("raise_exception", args, kwargs, "message").get(0, "");
            throw new JinjaError(ChatTemplateException.Kind.RAISED, PyText.str(message));
        });
        g.put("strftime_now", (PyCallable) (args, kwargs) -> {
            String format = Args.bind("strftime_now", args, kwargs, "format").string(0, "");
            return Strftime.format(ZonedDateTime.now(clock), format);
        });
        g.put("range", (PyCallable) JinjaGlobals::range);
        g.put("dict", (PyCallable) (args, kwargs) -> dict("dict", args, kwargs));
        g.put("namespace", (PyCallable) (args, kwargs) -> {
            Namespace ns = new Namespace();
            dict("namespace", args, kwargs).forEach((k, v) -> ns.attributes.put(PyText.str(k), v));
            return ns;
        });
        return g;
    }

    private static Object range(List<Object> args, Map<String, Object> kwargs) {
        if (!kwargs.isEmpty()) throw JinjaError.render("range() takes no keyword arguments");
        if (args.isEmpty() || args.size() > 3) throw JinjaError.render("range expected 1 to 3 arguments, got " + args.size());
        long[] v = new long[args.size()];
        for (int i = 0; i < v.length; i++) {
            if (!(args.get(i) instanceof Long || args.get(i) instanceof Boolean)) {
                throw JinjaError.render("'" + PyOps.typeName(args.get(i)) + "' object cannot be interpreted as an integer");
            }
            v[i] = PyOps.asLong(args.get(i));
        }
        long start = v.length > 1 ? v[0] : 0, stop = v.length > 1 ? v[1] : v[0], step = v.length > 2 ? v[2] : 1;
        if (step == 0) throw JinjaError.render("range() arg 3 must not be zero");
        long count = step > 0 ? Math.max(0, (stop - start + step - 1) / step) : Math.max(0, (start - stop - step - 1) / -step);
        if (count > MAX_RANGE) {
            throw JinjaError.render("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ").");
        }
        List<Object> out = new ArrayList<>((int) count);
        for (long i = 0, x = start; i < count; i++, x += step) out.add(x);
        return out;
    }

    /** Python's dict(mapping_or_pairs, **kwargs). */
    private static Map<Object, Object> dict(String function, List<Object> args, Map<String, Object> kwargs) {
        if (args.size() > 1) throw JinjaError.render(function + "() expected at most 1 positional argument, got " + args.size());
        Map<Object, Object> out = new java.util.LinkedHashMap<>();
        if (!args.isEmpty()) {
            Object source = args.get(0);
            if (source instanceof Map<?, ?> m) {
                out.putAll(m);
            } else {
                for (Object pair : PyOps.iterate(source)) {
                    List<Object> kv = PyOps.iterate(pair);
                    if (kv.size() != 2) throw JinjaError.render(function + "() sequence elements must have length 2");
                    out.put(kv.get(0), kv.get(1));
                }
            }
        }
        out.putAll(kwargs);
        return out;
    }
}
