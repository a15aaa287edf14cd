package dev.specula.tokenizer.chat;

import java.util.List;
import java.util.Map;

/**
 * The arguments of one call to a built-in (method, filter, test or global), bound to parameter
 * names the way Python binds them: positionally first, then by keyword; a parameter given
 * neither way takes the default its reader asks for.
 */
final class Args {
    private static final Object ABSENT = new Object();

    private final String function;
    private final String[] params;
    private final Object[] values;

    private Args(String function, String[] params, Object[] values) {
        this.function = function;
        this.params = params;
        this.values = values;
    }

    static Args bind(String function, List<Object> args, Map<String, Object> kwargs, String... params) {
        if (args.size() > params.length) {
            throw JinjaError.render(function + "() takes at most " + params.length + " argument(s) ("
                    + args.size() + " given)");
        }
        Object[] values = new Object[params.length];
        java.util.Arrays.fill(values, ABSENT);
        for (int i = 0; i < args.size(); i++) values[i] = args.get(i);
        for (Map.Entry<String, Object> e : kwargs.entrySet()) {
            int i = java.util.Arrays.asList(params).indexOf(e.getKey());
            if (i < 0) throw JinjaError.render(function + "() got an unexpected keyword argument '" + e.getKey() + "'");
            if (values[i] != ABSENT) throw JinjaError.render(function + "() got multiple values for argument '" + e.getKey() + "'");
            values[i] = e.getValue();
        }
        return new Args(function, params, values);
    }

    boolean has(int i) {
        return values[i] != ABSENT;
    }

    Object get(int i, Object fallback) {
        return has(i) ? values[i] : fallback;
    }

    Object required(int i) {
        if (!has(i)) throw JinjaError.render(function + "() missing required argument '" + params[i] + "'");
        return values[i];
    }

    /** A str argument (None allowed, meaning the fallback's behaviour). */
    String string(int i, String fallback) {
        Object v = get(i, fallback);
        if (v == null || v instanceof String) return (String) v;
        if (v instanceof Markup m) return m.text();
        throw JinjaError.render(function + "() argument '" + params[i] + "' must be str, not " + PyOps.typeName(v));
    }

    long integer(int i, long fallback) {
        Object v = get(i, fallback);
        if (v instanceof Long || v instanceof Boolean) return PyOps.asLong(v);
        throw JinjaError.render(function + "() argument '" + params[i] + "' must be int, not " + PyOps.typeName(v));
    }

    boolean bool(int i, boolean fallback) {
        return PyOps.truthy(get(i, fallback));
    }
}
