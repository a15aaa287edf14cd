package dev.specula.tokenizer.chat;

import dev.specula.tokenizer.chat.JinjaNode.*;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks a parsed template and writes its output. Scoping follows jinja2: {@code if} shares
 * its enclosing scope; each iteration of a {@code for} loop, each macro call and each
 * {@code with} block gets a fresh scope over the enclosing one, so a {@code set} inside a loop
 * is gone on the next iteration (templates carry state across iterations in a namespace()).
 * One renderer renders once; it is not shared between threads.
 */
final class JinjaRenderer {
    /** Nested macro calls allowed before rendering stops, against runaway recursion. */
    static final int MAX_CALL_DEPTH = 200;

    private enum Signal { NORMAL, BREAK, CONTINUE }

    private static final class Frame {
        final Frame parent;
        final Map<String, Object> vars = new HashMap<>();

        Frame(Frame parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Frame f = this; f != null; f = f.parent) {
                Object v = f.vars.get(name);
                if (v != null || f.vars.containsKey(name)) return v;
            }
            return Undefined.name(name);
        }
    }

    private StringBuilder out = new StringBuilder();
    private int callDepth;

    private JinjaRenderer() {}

    /** Renders body with globals under the context (context names shadow globals). */
    static String render(List<Stmt> body, Map<String, Object> globals, Map<String, Object> context) {
        Frame globalFrame = new Frame(null);
        globalFrame.vars.putAll(globals);
        Frame root = new Frame(globalFrame);
        root.vars.putAll(context);
        JinjaRenderer r = new JinjaRenderer();
        r.exec(body, root);
        return r.out.toString();
    }

    // ---- statements -----------------------------------------------------------------------------

    private Signal exec(List<Stmt> body, Frame f) {
        for (Stmt s : body) {
            Signal signal = exec(s, f);
            if (signal != Signal.NORMAL) return signal;
        }
        return Signal.NORMAL;
    }

    private Signal exec(Stmt stmt, Frame f) {
        switch (stmt) {
            case Text t -> out.append(t.text());
            case Output o -> {
                try {
                    out.append(PyText.str(eval(o.expr(), f)));
                } catch (JinjaError e) {
                    throw e.at(o.pos());
                }
            }
            case If s -> {
                for (int i = 0; i < s.tests().size(); i++) {
                    if (PyOps.truthy(evalAt(s.tests().get(i), f, s.pos()))) return exec(s.bodies().get(i), f);
                }
                return exec(s.orElse(), f);
            }
            case For s -> execFor(s, f);
            case JinjaNode.Set s -> {
                try {
                    assign(s.target(), eval(s.value(), f), f);
                } catch (JinjaError e) {
                    throw e.at(s.pos());
                }
            }
            case SetBlock s -> {
                try {
                    assign(s.target(), applyFilters(s.filters(), capture(s.body(), f), f), f);
                } catch (JinjaError e) {
                    throw e.at(s.pos());
                }
            }
            case Macro m -> f.vars.put(m.name(), macro(m, f));
            case With w -> {
                Frame scope = new Frame(f);
                try {
                    for (int i = 0; i < w.targets().size(); i++) assign(w.targets().get(i), eval(w.values().get(i), f), scope);
                } catch (JinjaError e) {
                    throw e.at(w.pos());
                }
                return exec(w.body(), scope);
            }
            case FilterBlock b -> {
                try {
                    out.append(PyText.str(applyFilters(b.filters(), capture(b.body(), f), f)));
                } catch (JinjaError e) {
                    throw e.at(b.pos());
                }
            }
            case Block b -> {
                return exec(b.body(), f);
            }
            case Break b -> {
                return Signal.BREAK;
            }
            case Continue c -> {
                return Signal.CONTINUE;
            }
        }
        return Signal.NORMAL;
    }

    private void execFor(For s, Frame f) {
        List<Object> items;
        try {
            items = PyOps.iterate(eval(s.iter(), f));
            if (s.filter() != null) {
                List<Object> kept = new ArrayList<>();
                for (Object item : items) {
                    Frame scope = new Frame(f);
                    assign(s.target(), item, scope);
                    if (PyOps.truthy(eval(s.filter(), scope))) kept.add(item);
                }
                items = kept;
            }
        } catch (JinjaError e) {
            throw e.at(s.pos());
        }
        if (items.isEmpty()) {
            exec(s.orElse(), f);
            return;
        }
        LoopContext loop = new LoopContext(items);
        for (int i = 0; i < items.size(); i++) {
            loop.index0 = i;
            Frame scope = new Frame(f);
            try {
                assign(s.target(), items.get(i), scope);
            } catch (JinjaError e) {
                throw e.at(s.pos());
            }
            scope.vars.put("loop", loop);
            if (exec(s.body(), scope) == Signal.BREAK) break;
        }
    }

    private String capture(List<Stmt> body, Frame f) {
        StringBuilder saved = out;
        out = new StringBuilder();
        try {
            exec(body, f);
            return out.toString();
        } finally {
            out = saved;
        }
    }

    private Object applyFilters(List<Filter> filters, Object value, Frame f) {
        for (Filter filter : filters) value = filter(filter, value, f);
        return value;
    }

    private void assign(Target target, Object value, Frame f) {
        switch (target) {
            case NameTarget n -> f.vars.put(n.name(), value);
            case NamespaceTarget n -> {
                if (!(f.lookup(n.namespace()) instanceof Namespace ns)) {
                    throw JinjaError.render("cannot assign attribute on non-namespace object").at(n.pos());
                }
                ns.attributes.put(n.attribute(), value);
            }
            case TupleTarget t -> {
                List<Object> values = PyOps.iterate(value);
                if (values.size() != t.items().size()) {
                    throw JinjaError.render(values.size() > t.items().size()
                            ? "too many values to unpack (expected " + t.items().size() + ")"
                            : "not enough values to unpack (expected " + t.items().size() + ", got " + values.size() + ")");
                }
                for (int i = 0; i < values.size(); i++) assign(t.items().get(i), values.get(i), f);
            }
        }
    }

    private PyCallable macro(Macro m, Frame definedIn) {
        return (args, kwargs) -> {
            if (callDepth >= MAX_CALL_DEPTH) throw JinjaError.render("maximum macro recursion depth exceeded in '" + m.name() + "'");
            Frame scope = new Frame(definedIn);
            Map<String, Object> extra = new LinkedHashMap<>(kwargs);
            for (int i = 0; i < m.params().size(); i++) {
                String name = m.params().get(i);
                if (i < args.size()) scope.vars.put(name, args.get(i));
                else if (extra.containsKey(name)) scope.vars.put(name, extra.remove(name));
                else if (m.defaults().get(i) != null) scope.vars.put(name, eval(m.defaults().get(i), scope));
                else scope.vars.put(name, Undefined.of("parameter '" + name + "' was not provided"));
            }
            if (args.size() > m.params().size() && !m.catchesVarargs()) {
                throw JinjaError.render("macro '" + m.name() + "' takes not more than " + m.params().size() + " argument(s)");
            }
            if (!extra.isEmpty() && !m.catchesKwargs()) {
                throw JinjaError.render("macro '" + m.name() + "' takes no keyword argument '" + extra.keySet().iterator().next() + "'");
            }
            scope.vars.put("varargs", new PyTuple(args.subList(Math.min(args.size(), m.params().size()), args.size())));
            scope.vars.put("kwargs", new LinkedHashMap<Object, Object>(extra));
            callDepth++;
            try {
                return capture(m.body(), scope);
            } finally {
                callDepth--;
            }
        };
    }

    // ---- expressions ----------------------------------------------------------------------------

    private Object evalAt(Expr e, Frame f, int pos) {
        try {
            return eval(e, f);
        } catch (JinjaError err) {
            throw err.at(pos);
        }
    }

    private Object eval(Expr expr, Frame f) {
        return switch (expr) {
            case Const c -> c.value();
            case Name n -> f.lookup(n.name());
            case ListExpr l -> {
                List<Object> items = new ArrayList<>(l.items().size());
                for (Expr e : l.items()) items.add(eval(e, f));
                yield items;
            }
            case TupleExpr t -> {
                List<Object> items = new ArrayList<>(t.items().size());
                for (Expr e : t.items()) items.add(eval(e, f));
                yield new PyTuple(items);
            }
            case DictExpr d -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object key = eval(d.keys().get(i), f);
                    if (key instanceof List<?> && !(key instanceof PyTuple) || key instanceof Map<?, ?>) {
                        throw JinjaError.render("unhashable type: '" + PyOps.typeName(key) + "'");
                    }
                    Object existing = PyOps.findKey(map, key);
                    map.put(existing == PyOps.MISSING ? key : existing, eval(d.values().get(i), f));
                }
                yield map;
            }
            case GetAttr g -> PyOps.getAttr(eval(g.obj(), f), g.name());
            case GetItem g -> PyOps.getItem(eval(g.obj(), f), eval(g.key(), f));
            case SliceExpr s -> new PyOps.Slice(evalOrNull(s.start(), f), evalOrNull(s.stop(), f), evalOrNull(s.step(), f));
            case Call c -> call(c, f);
            case Filter filter -> filter(filter, eval(filter.value(), f), f);
            case Test t -> {
                Object value = eval(t.value(), f);
                List<Object> args = new ArrayList<>();
                Map<String, Object> kwargs = new LinkedHashMap<>();
                arguments(t.args(), f, args, kwargs);
                boolean result;
                try {
                    result = JinjaTests.apply(t.name(), value, args);
                } catch (JinjaError e) {
                    throw e.at(t.pos());
                }
                yield result != t.negated();
            }
            case Unary u -> {
                Object v = eval(u.operand(), f);
                try {
                    yield u.op().equals("-") ? PyOps.negate(v) : PyOps.plus(v);
                } catch (JinjaError e) {
                    throw e.at(u.pos());
                }
            }
            case Binary b -> binary(b, eval(b.left(), f), eval(b.right(), f));
            case Concat c -> {
                StringBuilder sb = new StringBuilder();
                for (Expr e : c.parts()) sb.append(PyText.str(eval(e, f)));
                yield sb.toString();
            }
            case Compare c -> compare(c, f);
            case And a -> {
                Object left = eval(a.left(), f);
                yield PyOps.truthy(left) ? eval(a.right(), f) : left;
            }
            case Or o -> {
                Object left = eval(o.left(), f);
                yield PyOps.truthy(left) ? left : eval(o.right(), f);
            }
            case Not n -> !PyOps.truthy(eval(n.operand(), f));
            case CondExpr c -> {
                if (PyOps.truthy(eval(c.test(), f))) yield eval(c.then(), f);
                yield c.orElse() != null ? eval(c.orElse(), f)
                        : Undefined.of("the inline if-expression evaluated to false and no else section was defined.");
            }
        };
    }

    private Object evalOrNull(Expr e, Frame f) {
        return e == null ? null : eval(e, f);
    }

    private Object binary(Binary b, Object left, Object right) {
        try {
            return switch (b.op()) {
                case "+" -> PyOps.add(left, right);
                case "-" -> PyOps.sub(left, right);
                case "*" -> PyOps.mul(left, right);
                case "/" -> PyOps.div(left, right);
                case "//" -> PyOps.floorDiv(left, right);
                case "%" -> PyOps.mod(left, right);
                case "**" -> PyOps.pow(left, right);
                default -> throw new IllegalStateException("operator " + b.op());
            };
        } catch (JinjaError e) {
            throw e.at(b.pos());
        }
    }

    private Object compare(Compare c, Frame f) {
        Object left = eval(c.first(), f);
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.rest().get(i), f);
            String op = c.ops().get(i);
            boolean holds;
            try {
                holds = switch (op) {
                    case "==" -> PyOps.eq(left, right);
                    case "!=" -> !PyOps.eq(left, right);
                    case "<" -> PyOps.compare(left, right, op) < 0;
                    case "<=" -> PyOps.compare(left, right, op) <= 0;
                    case ">" -> PyOps.compare(left, right, op) > 0;
                    case ">=" -> PyOps.compare(left, right, op) >= 0;
                    case "in" -> PyOps.contains(right, left);
                    default -> !PyOps.contains(right, left);
                };
            } catch (JinjaError e) {
                throw e.at(c.pos());
            }
            if (!holds) return false;
            left = right;
        }
        return true;
    }

    private void arguments(CallArgs a, Frame f, List<Object> args, Map<String, Object> kwargs) {
        for (Expr e : a.args()) args.add(eval(e, f));
        for (int i = 0; i < a.kwNames().size(); i++) kwargs.put(a.kwNames().get(i), eval(a.kwValues().get(i), f));
        if (a.dynArgs() != null) args.addAll(PyOps.iterate(eval(a.dynArgs(), f)));
        if (a.dynKwargs() != null) {
            if (!(eval(a.dynKwargs(), f) instanceof Map<?, ?> m)) throw JinjaError.render("argument after ** must be a mapping");
            m.forEach((k, v) -> kwargs.put(PyText.str(k), v));
        }
    }

    private Object call(Call c, Frame f) {
        Object fn = eval(c.fn(), f);
        List<Object> args = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        arguments(c.args(), f, args, kwargs);
        try {
            if (fn instanceof PyCallable callable) return callable.call(args, kwargs);
            if (fn instanceof Undefined u) throw u.error();
            throw JinjaError.render("'" + PyOps.typeName(fn) + "' object is not callable");
        } catch (JinjaError e) {
            throw e.at(c.pos());
        }
    }

    private Object filter(Filter filter, Object value, Frame f) {
        List<Object> args = new ArrayList<>();
        Map<String, Object> kwargs = new LinkedHashMap<>();
        arguments(filter.args(), f, args, kwargs);
        try {
            return JinjaFilters.apply(filter.name(), value, args, kwargs);
        } catch (JinjaError e) {
            throw e.at(filter.pos());
        }
    }
}
