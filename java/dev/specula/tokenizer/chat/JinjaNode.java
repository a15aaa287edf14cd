package dev.specula.tokenizer.chat;

import java.util.List;

/**
 * The syntax tree of a template: statements ({@link Stmt}), expressions ({@link Expr}) and
 * assignment targets ({@link Target}). Every node that can fail keeps the source offset where
 * it starts, so errors name a line and column.
 */
final class JinjaNode {
    private JinjaNode() {}

    sealed interface Stmt {}

    record Text(String text) implements Stmt {}

    record Output(Expr expr, int pos) implements Stmt {}

    record If(List<Expr> tests, List<List<Stmt>> bodies, List<Stmt> orElse, int pos) implements Stmt {}

    record For(Target target, Expr iter, Expr filter, List<Stmt> body, List<Stmt> orElse, int pos) implements Stmt {}

    record Set(Target target, Expr value, int pos) implements Stmt {}

    record SetBlock(Target target, List<Stmt> body, List<Filter> filters, int pos) implements Stmt {}

    /**
     * A macro: parameter defaults are aligned with names (null where a parameter has none). As in
     * jinja2, extra positional or keyword arguments are accepted only if the body reads
     * {@code varargs} or {@code kwargs}.
     */
    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body,
                 boolean catchesVarargs, boolean catchesKwargs, int pos) implements Stmt {}

    record With(List<Target> targets, List<Expr> values, List<Stmt> body, int pos) implements Stmt {}

    record FilterBlock(List<Filter> filters, List<Stmt> body, int pos) implements Stmt {}

    /** A block that renders its body in place ({% generation %} in transformers' templates). */
    record Block(List<Stmt> body) implements Stmt {}

    record Break(int pos) implements Stmt {}

    record Continue(int pos) implements Stmt {}

    sealed interface Target {}

    record NameTarget(String name) implements Target {}

    record TupleTarget(List<Target> items) implements Target {}

    record NamespaceTarget(String namespace, String attribute, int pos) implements Target {}

    sealed interface Expr {}

    record Const(Object value) implements Expr {}

    record Name(String name, int pos) implements Expr {}

    record ListExpr(List<Expr> items) implements Expr {}

    record TupleExpr(List<Expr> items) implements Expr {}

    record DictExpr(List<Expr> keys, List<Expr> values) implements Expr {}

    record GetAttr(Expr obj, String name, int pos) implements Expr {}

    record GetItem(Expr obj, Expr key, int pos) implements Expr {}

    record SliceExpr(Expr start, Expr stop, Expr step) implements Expr {}

    /** Arguments of a call, filter or test: positional, keyword, and *args / **kwargs. */
    record CallArgs(List<Expr> args, List<String> kwNames, List<Expr> kwValues, Expr dynArgs, Expr dynKwargs) {
        static final CallArgs NONE = new CallArgs(List.of(), List.of(), List.of(), null, null);
    }

    record Call(Expr fn, CallArgs args, int pos) implements Expr {}

    /** value | name(args); value is null inside {% filter %} and {% set x | f %} blocks. */
    record Filter(Expr value, String name, CallArgs args, int pos) implements Expr {}

    record Test(Expr value, String name, CallArgs args, boolean negated, int pos) implements Expr {}

    record Unary(String op, Expr operand, int pos) implements Expr {}

    record Binary(String op, Expr left, Expr right, int pos) implements Expr {}

    record Concat(List<Expr> parts) implements Expr {}

    record Compare(Expr first, List<String> ops, List<Expr> rest, int pos) implements Expr {}

    record And(Expr left, Expr right) implements Expr {}

    record Or(Expr left, Expr right) implements Expr {}

    record Not(Expr operand) implements Expr {}

    /** then if test else orElse; orElse null renders as undefined, like jinja2. */
    record CondExpr(Expr test, Expr then, Expr orElse, int pos) implements Expr {}
}
