package dev.specula.tokenizer.chat;

import dev.specula.tokenizer.chat.JinjaLexer.Kind;
import dev.specula.tokenizer.chat.JinjaLexer.Token;
import dev.specula.tokenizer.chat.JinjaNode.*;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the syntax tree from tokens with jinja2's grammar and operator precedence (lowest
 * first): {@code x if c else y}, or, and, not, comparisons and {@code in}, {@code + -},
 * {@code ~}, {@code * / // %}, {@code **}, unary {@code - +}, then postfix {@code . [] ()} and
 * {@code | filter} / {@code is test}. Statements: if/elif/else, for (with loop filter and else),
 * set (plain, namespace attribute, block), macro, with, filter, break, continue, generation.
 * Unknown filters and tests are errors here, as jinja2 reports them when compiling.
 */
final class JinjaParser {
    private static final java.util.Set<String> COMPARE = java.util.Set.of("==", "!=", ">", ">=", "<", "<=");
    private static final java.util.Set<String> UNSUPPORTED_TAGS =
            java.util.Set.of("call", "include", "import", "from", "extends", "block", "autoescape");

    private final List<Token> tokens;
    private int index;
    /** Names read inside each macro body being parsed (innermost last). */
    private final java.util.Deque<java.util.Set<String>> macroNames = new java.util.ArrayDeque<>();

    private JinjaParser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Stmt> parse(String normalizedSource) {
        JinjaParser p = new JinjaParser(JinjaLexer.tokenize(normalizedSource));
        List<Stmt> body = p.subparse(java.util.Set.of());
        p.expect(Kind.EOF);
        return body;
    }

    // ---- token stream -------------------------------------------------------------------------

    private Token cur() {
        return tokens.get(index);
    }

    private Token peek() {
        return tokens.get(Math.min(index + 1, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(index);
        if (index < tokens.size() - 1) index++;
        return t;
    }

    private JinjaError fail(String message, Token at) {
        return JinjaError.syntax(message, at.pos());
    }

    private Token expect(Kind kind) {
        if (cur().kind() != kind) {
            throw fail("expected " + new Token(kind, kind.name().toLowerCase(java.util.Locale.ROOT), null, 0).describe()
                    + ", got '" + cur().describe() + "'", cur());
        }
        return next();
    }

    private void expectOp(String op) {
        if (!cur().isOp(op)) throw fail("expected token '" + op + "', got '" + cur().describe() + "'", cur());
        next();
    }

    private void expectName(String name) {
        if (!cur().isName(name)) throw fail("expected token '" + name + "', got '" + cur().describe() + "'", cur());
        next();
    }

    private String expectIdentifier() {
        if (cur().kind() != Kind.NAME) throw fail("expected a name, got '" + cur().describe() + "'", cur());
        return next().text();
    }

    private boolean skipOp(String op) {
        if (!cur().isOp(op)) return false;
        next();
        return true;
    }

    private boolean skipName(String name) {
        if (!cur().isName(name)) return false;
        next();
        return true;
    }

    // ---- statements -----------------------------------------------------------------------------

    /** Template data and tags up to (not including) a block tag named in endTags, or the end. */
    private List<Stmt> subparse(java.util.Set<String> endTags) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Token t = cur();
            switch (t.kind()) {
                case DATA -> body.add(new Text(next().text()));
                case VAR_BEGIN -> {
                    next();
                    Expr e = parseTuple(false, true, java.util.Set.of(), false);
                    expect(Kind.VAR_END);
                    body.add(new Output(e, t.pos()));
                }
                case BLOCK_BEGIN -> {
                    next();
                    if (cur().kind() != Kind.NAME) throw fail("tag name expected", cur());
                    if (endTags.contains(cur().text())) return body;
                    body.add(parseStatement());
                    expect(Kind.BLOCK_END);
                }
                case EOF -> {
                    if (!endTags.isEmpty()) {
                        throw fail("unexpected end of template; looking for the tag(s) "
                                + String.join(" or ", endTags.stream().sorted().map(s -> "'" + s + "'").toList()), t);
                    }
                    return body;
                }
                default -> throw fail("unexpected '" + t.describe() + "'", t);
            }
        }
    }

    /** The body after a statement's opening tag, up to one of endTags (consumed if drop). */
    private List<Stmt> body(java.util.Set<String> endTags, boolean drop) {
        expect(Kind.BLOCK_END);
        List<Stmt> body = subparse(endTags);
        if (drop) next();
        return body;
    }

    private Stmt parseStatement() {
        Token tag = cur();
        return switch (tag.text()) {
            case "for" -> parseFor();
            case "if" -> parseIf();
            case "set" -> parseSet();
            case "macro" -> parseMacro();
            case "with" -> parseWith();
            case "filter" -> parseFilterBlock();
            case "break" -> {
                next();
                yield new Break(tag.pos());
            }
            case "continue" -> {
                next();
                yield new Continue(tag.pos());
            }
            case "generation" -> {
                next();
                yield new Block(body(java.util.Set.of("endgeneration"), true));
            }
            default -> throw fail(UNSUPPORTED_TAGS.contains(tag.text())
                    ? "tag '" + tag.text() + "' is not supported in chat templates"
                    : "encountered unknown tag '" + tag.text() + "'", tag);
        };
    }

    private Stmt parseFor() {
        int pos = next().pos();
        Target target = parseAssignTarget(java.util.Set.of("in"), false, false);
        expectName("in");
        Expr iter = parseTuple(false, false, java.util.Set.of("recursive"), false);
        Expr filter = skipName("if") ? parseExpression(true) : null;
        if (cur().isName("recursive")) throw fail("recursive loops are not supported in chat templates", cur());
        List<Stmt> body = body(java.util.Set.of("endfor", "else"), false);
        List<Stmt> orElse = next().text().equals("endfor") ? List.of() : body(java.util.Set.of("endfor"), true);
        return new For(target, iter, filter, body, orElse, pos);
    }

    private Stmt parseIf() {
        int pos = next().pos();
        List<Expr> tests = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> orElse = List.of();
        while (true) {
            tests.add(parseTuple(false, false, java.util.Set.of(), false));
            bodies.add(body(java.util.Set.of("elif", "else", "endif"), false));
            String tag = next().text();
            if (tag.equals("elif")) continue;
            if (tag.equals("else")) orElse = body(java.util.Set.of("endif"), true);
            break;
        }
        return new If(tests, bodies, orElse, pos);
    }

    private Stmt parseSet() {
        int pos = next().pos();
        Target target = parseAssignTarget(java.util.Set.of(), true, false);
        if (skipOp("=")) return new JinjaNode.Set(target, parseTuple(false, true, java.util.Set.of(), false), pos);
        List<Filter> filters = cur().isOp("|") ? parseFilterChain(false) : List.of();
        return new SetBlock(target, body(java.util.Set.of("endset"), true), filters, pos);
    }

    private Stmt parseMacro() {
        int pos = next().pos();
        String name = expectIdentifier();
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expectOp("(");
        while (!cur().isOp(")")) {
            if (!params.isEmpty()) expectOp(",");
            Token at = cur();
            params.add(expectIdentifier());
            if (skipOp("=")) {
                defaults.add(parseExpression(true));
            } else {
                if (defaults.stream().anyMatch(java.util.Objects::nonNull)) {
                    throw fail("non-default argument follows default argument", at);
                }
                defaults.add(null);
            }
        }
        expectOp(")");
        java.util.Set<String> names = new java.util.HashSet<>();
        macroNames.push(names);
        List<Stmt> body;
        try {
            body = body(java.util.Set.of("endmacro"), true);
        } finally {
            macroNames.pop();
        }
        return new Macro(name, params, defaults, body, names.contains("varargs"), names.contains("kwargs"), pos);
    }

    private Stmt parseWith() {
        int pos = next().pos();
        List<Target> targets = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (cur().kind() != Kind.BLOCK_END) {
            if (!targets.isEmpty()) expectOp(",");
            targets.add(parseAssignTarget(java.util.Set.of(), false, false));
            expectOp("=");
            values.add(parseExpression(true));
        }
        return new With(targets, values, body(java.util.Set.of("endwith"), true), pos);
    }

    private Stmt parseFilterBlock() {
        int pos = next().pos();
        List<Filter> filters = parseFilterChain(true);
        return new FilterBlock(filters, body(java.util.Set.of("endfilter"), true), pos);
    }

    private Target parseAssignTarget(java.util.Set<String> extraEnd, boolean withNamespace, boolean nameOnly) {
        if (withNamespace && cur().kind() == Kind.NAME && peek().isOp(".")) {
            Token ns = next();
            next();
            return new NamespaceTarget(ns.text(), expectIdentifier(), ns.pos());
        }
        if (nameOnly) return new NameTarget(expectIdentifier());
        List<Target> items = new ArrayList<>();
        boolean tuple = false;
        while (true) {
            if (!items.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd) || cur().isOp("=")) break;
            items.add(parseSimpleTarget());
            if (cur().isOp(",")) tuple = true;
            else break;
        }
        if (items.isEmpty()) throw fail("expected an assignment target, got '" + cur().describe() + "'", cur());
        return tuple ? new TupleTarget(items) : items.get(0);
    }

    private Target parseSimpleTarget() {
        Token t = cur();
        if (t.isOp("(")) {
            next();
            Target inner = parseAssignTarget(java.util.Set.of(), false, false);
            expectOp(")");
            return inner;
        }
        if (t.kind() != Kind.NAME || java.util.Set.of("true", "false", "True", "False", "none", "None").contains(t.text())) {
            throw fail("can't assign to '" + t.describe() + "'", t);
        }
        next();
        return new NameTarget(t.text());
    }

    // ---- expressions ----------------------------------------------------------------------------

    private boolean isTupleEnd(java.util.Set<String> extraEnd) {
        Token t = cur();
        return t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.kind() == Kind.EOF || t.isOp(")")
                || (t.kind() == Kind.NAME && extraEnd.contains(t.text()));
    }

    private Expr parseTuple(boolean simplified, boolean withCondexpr, java.util.Set<String> extraEnd, boolean explicitParens) {
        List<Expr> items = new ArrayList<>();
        boolean tuple = false;
        while (true) {
            if (!items.isEmpty()) expectOp(",");
            if (isTupleEnd(extraEnd)) break;
            items.add(simplified ? parsePrimary() : parseExpression(withCondexpr));
            if (cur().isOp(",")) tuple = true;
            else break;
        }
        if (!tuple) {
            if (!items.isEmpty()) return items.get(0);
            if (!explicitParens) throw fail("expected an expression, got '" + cur().describe() + "'", cur());
        }
        return new TupleExpr(items);
    }

    private Expr parseExpression(boolean withCondexpr) {
        return withCondexpr ? parseCondexpr() : parseOr();
    }

    private Expr parseCondexpr() {
        int pos = cur().pos();
        Expr expr = parseOr();
        while (skipName("if")) {
            Expr test = parseOr();
            Expr orElse = skipName("else") ? parseCondexpr() : null;
            expr = new CondExpr(test, expr, orElse, pos);
        }
        return expr;
    }

    private Expr parseOr() {
        Expr left = parseAnd();
        while (skipName("or")) left = new Or(left, parseAnd());
        return left;
    }

    private Expr parseAnd() {
        Expr left = parseNot();
        while (skipName("and")) left = new And(left, parseNot());
        return left;
    }

    private Expr parseNot() {
        if (skipName("not")) return new Not(parseNot());
        return parseCompare();
    }

    private Expr parseCompare() {
        int pos = cur().pos();
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = cur();
            if (t.kind() == Kind.OPERATOR && COMPARE.contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (skipName("in")) {
                ops.add("in");
            } else if (t.isName("not") && peek().isName("in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Compare(first, ops, rest, pos);
    }

    private Expr parseMath1() {
        Expr left = parseConcat();
        while (cur().isOp("+") || cur().isOp("-")) {
            Token op = next();
            left = new Binary(op.text(), left, parseConcat(), op.pos());
        }
        return left;
    }

    private Expr parseConcat() {
        List<Expr> parts = new ArrayList<>();
        parts.add(parseMath2());
        while (skipOp("~")) parts.add(parseMath2());
        return parts.size() == 1 ? parts.get(0) : new Concat(parts);
    }

    private Expr parseMath2() {
        Expr left = parsePow();
        while (cur().isOp("*") || cur().isOp("/") || cur().isOp("//") || cur().isOp("%")) {
            Token op = next();
            left = new Binary(op.text(), left, parsePow(), op.pos());
        }
        return left;
    }

    private Expr parsePow() {
        Expr left = parseUnary(true);
        while (cur().isOp("**")) {
            Token op = next();
            left = new Binary("**", left, parseUnary(true), op.pos());
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        Token t = cur();
        Expr node;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            node = new Unary(t.text(), parseUnary(false), t.pos());
        } else {
            node = parsePrimary();
        }
        node = parsePostfix(node);
        return withFilter ? parseFilterExpr(node) : node;
    }

    private Expr parsePrimary() {
        Token t = cur();
        switch (t.kind()) {
            case NAME -> {
                next();
                return switch (t.text()) {
                    case "true", "True" -> new Const(true);
                    case "false", "False" -> new Const(false);
                    case "none", "None" -> new Const(null);
                    default -> {
                        for (java.util.Set<String> names : macroNames) names.add(t.text());
                        yield new Name(t.text(), t.pos());
                    }
                };
            }
            case STRING -> {
                StringBuilder b = new StringBuilder();
                while (cur().kind() == Kind.STRING) b.append((String) next().value());
                return new Const(b.toString());
            }
            case INTEGER, FLOAT -> {
                return new Const(next().value());
            }
            default -> {
            }
        }
        if (t.isOp("(")) {
            next();
            Expr e = parseTuple(false, true, java.util.Set.of(), true);
            expectOp(")");
            return e;
        }
        if (t.isOp("[")) return parseList();
        if (t.isOp("{")) return parseDict();
        throw fail("unexpected '" + t.describe() + "'", t);
    }

    private Expr parseList() {
        expectOp("[");
        List<Expr> items = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!items.isEmpty()) expectOp(",");
            if (cur().isOp("]")) break;
            items.add(parseExpression(true));
        }
        expectOp("]");
        return new ListExpr(items);
    }

    private Expr parseDict() {
        expectOp("{");
        List<Expr> keys = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (!cur().isOp("}")) {
            if (!keys.isEmpty()) expectOp(",");
            if (cur().isOp("}")) break;
            keys.add(parseExpression(true));
            expectOp(":");
            values.add(parseExpression(true));
        }
        expectOp("}");
        return new DictExpr(keys, values);
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            if (cur().isOp(".") || cur().isOp("[")) node = parseSubscript(node);
            else if (cur().isOp("(")) {
                int pos = cur().pos();
                node = new Call(node, parseCallArgs(), pos);
            } else {
                return node;
            }
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            if (cur().isOp("|")) {
                for (Filter f : parseFilterChain(false)) node = new Filter(node, f.name(), f.args(), f.pos());
            } else if (cur().isName("is")) {
                node = parseTest(node);
            } else if (cur().isOp("(")) {
                int pos = cur().pos();
                node = new Call(node, parseCallArgs(), pos);
            } else {
                return node;
            }
        }
    }

    private Expr parseSubscript(Expr node) {
        Token t = next();
        if (t.isOp(".")) {
            Token attr = next();
            if (attr.kind() == Kind.NAME) return new GetAttr(node, attr.text(), t.pos());
            if (attr.kind() == Kind.INTEGER) return new GetItem(node, new Const(attr.value()), t.pos());
            throw fail("expected name or number", attr);
        }
        List<Expr> keys = new ArrayList<>();
        while (!cur().isOp("]")) {
            if (!keys.isEmpty()) expectOp(",");
            keys.add(parseSubscribed());
        }
        expectOp("]");
        return new GetItem(node, keys.size() == 1 ? keys.get(0) : new TupleExpr(keys), t.pos());
    }

    private Expr parseSubscribed() {
        Expr start = null;
        if (!cur().isOp(":")) {
            Expr e = parseExpression(true);
            if (!cur().isOp(":")) return e;
            start = e;
        }
        next(); // the first ':'
        Expr stop = cur().isOp(":") || cur().isOp("]") || cur().isOp(",") ? null : parseExpression(true);
        Expr step = null;
        if (skipOp(":") && !cur().isOp("]") && !cur().isOp(",")) step = parseExpression(true);
        return new SliceExpr(start, stop, step);
    }

    private CallArgs parseCallArgs() {
        Token open = cur();
        expectOp("(");
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        Expr dynArgs = null, dynKwargs = null;
        boolean needComma = false;
        while (!cur().isOp(")")) {
            if (needComma) {
                expectOp(",");
                if (cur().isOp(")")) break;
            }
            if (skipOp("*")) {
                if (dynArgs != null || dynKwargs != null) throw fail("invalid syntax for function call expression", open);
                dynArgs = parseExpression(true);
            } else if (skipOp("**")) {
                if (dynKwargs != null) throw fail("invalid syntax for function call expression", open);
                dynKwargs = parseExpression(true);
            } else if (cur().kind() == Kind.NAME && peek().isOp("=")) {
                if (dynKwargs != null) throw fail("invalid syntax for function call expression", open);
                kwNames.add(next().text());
                next();
                kwValues.add(parseExpression(true));
            } else {
                if (dynArgs != null || dynKwargs != null || !kwNames.isEmpty()) {
                    throw fail("invalid syntax for function call expression", open);
                }
                args.add(parseExpression(true));
            }
            needComma = true;
        }
        expectOp(")");
        return new CallArgs(args, kwNames, kwValues, dynArgs, dynKwargs);
    }

    /** One or more "| name(args)" (the first bar already given when startInline). */
    private List<Filter> parseFilterChain(boolean startInline) {
        List<Filter> filters = new ArrayList<>();
        while (cur().isOp("|") || startInline) {
            if (!startInline) next();
            startInline = false;
            Token t = cur();
            String name = dottedName();
            if (!JinjaFilters.exists(name)) throw fail("no filter named '" + name + "'", t);
            CallArgs args = cur().isOp("(") ? parseCallArgs() : CallArgs.NONE;
            filters.add(new Filter(null, name, args, t.pos()));
        }
        return filters;
    }

    private String dottedName() {
        StringBuilder name = new StringBuilder(expectIdentifier());
        while (skipOp(".")) name.append('.').append(expectIdentifier());
        return name.toString();
    }

    private Expr parseTest(Expr node) {
        Token is = next();
        boolean negated = skipName("not");
        Token t = cur();
        String name = dottedName();
        if (!JinjaTests.exists(name)) throw fail("no test named '" + name + "'", t);
        CallArgs args = CallArgs.NONE;
        Token c = cur();
        if (c.isOp("(")) {
            args = parseCallArgs();
        } else if ((c.kind() == Kind.NAME || c.kind() == Kind.STRING || c.kind() == Kind.INTEGER || c.kind() == Kind.FLOAT
                || c.isOp("[") || c.isOp("{")) && !c.isName("else") && !c.isName("or") && !c.isName("and")) {
            if (c.isName("is")) throw fail("You cannot chain multiple tests with is", c);
            args = new CallArgs(List.of(parsePostfix(parsePrimary())), List.of(), List.of(), null, null);
        }
        return new Test(node, name, args, negated, is.pos());
    }
}
