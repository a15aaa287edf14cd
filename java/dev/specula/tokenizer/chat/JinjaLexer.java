package dev.specula.tokenizer.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a template into text and the tokens inside {@code {{ }}} and {@code {% %}}, applying
 * whitespace control as jinja2 does with the settings transformers uses: trim_blocks (the first
 * newline after a block or comment tag is dropped), lstrip_blocks (spaces and tabs before a
 * block or comment tag at the start of a line are dropped), {@code -} to strip all whitespace on
 * that side, {@code +} to keep it, newlines normalised to \n and one trailing newline removed.
 */
final class JinjaLexer {
    enum Kind { DATA, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INTEGER, FLOAT, OPERATOR, EOF }

    /** One token; value is the decoded string or number, pos the offset in the normalised source. */
    record Token(Kind kind, String text, Object value, int pos) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isName(String name) {
            return is(Kind.NAME, name);
        }

        boolean isOp(String op) {
            return is(Kind.OPERATOR, op);
        }

        String describe() {
            return switch (kind) {
                case EOF -> "end of template";
                case VAR_END -> "end of print statement";
                case BLOCK_END -> "end of statement block";
                case VAR_BEGIN -> "begin of print statement";
                case BLOCK_BEGIN -> "begin of statement block";
                case DATA -> "template data";
                default -> text;
            };
        }
    }

    private static final String[] OPERATORS = {
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    };
    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*(?:-%}\\s*|%})");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*(?:\\+%}|-%}\\s*|%}\\n?)");
    private static final Pattern NUMBER = Pattern.compile(
            "(0[bB](_?[01])+|0[oO](_?[0-7])+|0[xX](_?[0-9a-fA-F])+)"
            + "|(\\d(_?\\d)*)(\\.\\d(_?\\d)*)?([eE][+-]?\\d(_?\\d)*)?");
    private static final Pattern NAME = Pattern.compile("[\\p{L}_][\\p{L}\\p{N}_]*");

    private final String src;
    private final List<Token> tokens = new ArrayList<>();
    private int pos;
    /** Whether the last match ended a line: lstrip_blocks then applies at the very next tag. */
    private boolean lineStarting = true;

    private JinjaLexer(String src) {
        this.src = src;
    }

    /** jinja2's newline handling: \r\n and \r become \n, and one trailing newline is dropped. */
    static String normalize(String source) {
        String s = source.replace("\r\n", "\n").replace('\r', '\n');
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    static List<Token> tokenize(String normalizedSource) {
        JinjaLexer lexer = new JinjaLexer(normalizedSource);
        lexer.run();
        return lexer.tokens;
    }

    private void run() {
        int n = src.length();
        while (pos < n) {
            int tag = nextTag(pos);
            if (tag < 0) {
                data(src.substring(pos), pos);
                break;
            }
            String text = src.substring(pos, tag);
            char kind = src.charAt(tag + 1);
            Matcher raw = RAW_BEGIN.matcher(src).region(tag, n);
            if (kind == '%' && raw.lookingAt()) {
                rawBlock(text, raw);
                continue;
            }
            char sign = tag + 2 < n && (src.charAt(tag + 2) == '-' || src.charAt(tag + 2) == '+') ? src.charAt(tag + 2) : 0;
            data(leftStrip(text, sign, kind != '{'), pos);
            int p = tag + 2 + (sign != 0 ? 1 : 0);
            switch (kind) {
                case '#' -> comment(tag, p);
                case '{' -> {
                    tokens.add(new Token(Kind.VAR_BEGIN, "{{", null, tag));
                    insideTag(tag, p, false);
                }
                default -> {
                    tokens.add(new Token(Kind.BLOCK_BEGIN, "{%", null, tag));
                    insideTag(tag, p, true);
                }
            }
        }
        tokens.add(new Token(Kind.EOF, "", null, src.length()));
    }

    private int nextTag(int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private void data(String text, int at) {
        if (!text.isEmpty()) tokens.add(new Token(Kind.DATA, text, text, at));
    }

    /** Whitespace control on the text before a tag: "-" strips it all, lstrip_blocks the line's indent. */
    private String leftStrip(String text, char sign, boolean lstripEligible) {
        if (sign == '-') return PyText.strip(text, null, false, true);
        if (sign == '+' || !lstripEligible) return text;
        int lineStart = text.lastIndexOf('\n') + 1;
        if ((lineStart > 0 || lineStarting) && PyText.isAllSpace(text.substring(lineStart))) {
            return text.substring(0, lineStart);
        }
        return text;
    }

    private void comment(int tag, int p) {
        int close = src.indexOf("#}", p);
        if (close < 0) throw JinjaError.syntax("Missing end of comment tag", tag);
        int end = close + 2;
        char before = close - 1 >= p ? src.charAt(close - 1) : 0;
        if (before == '-') end = skipSpace(end);
        else if (before != '+' && end < src.length() && src.charAt(end) == '\n') end++;
        finishTag(end);
    }

    private void rawBlock(String text, Matcher begin) {
        data(leftStrip(text, sign(begin.group(1)), true), pos);
        finishTag(begin.end());
        Matcher end = RAW_END.matcher(src).region(begin.end(), src.length());
        if (!end.find()) throw JinjaError.syntax("Missing end of raw directive", begin.start());
        data(leftStrip(src.substring(begin.end(), end.start()), sign(end.group(1)), true), begin.end());
        finishTag(end.end());
    }

    private static char sign(String group) {
        return group.isEmpty() ? 0 : group.charAt(0);
    }

    private void finishTag(int end) {
        lineStarting = end > 0 && src.charAt(end - 1) == '\n';
        pos = end;
    }

    private int skipSpace(int p) {
        while (p < src.length() && PyText.isSpace(src.codePointAt(p))) p += Character.charCount(src.codePointAt(p));
        return p;
    }

    /** The tokens of one {{ }} or {% %} tag; its end only counts outside brackets, as in jinja2. */
    private void insideTag(int tag, int p, boolean block) {
        Deque<String> brackets = new ArrayDeque<>();
        int n = src.length();
        while (true) {
            if (brackets.isEmpty()) {
                int end = tagEnd(p, block);
                if (end >= 0) {
                    tokens.add(new Token(block ? Kind.BLOCK_END : Kind.VAR_END, block ? "%}" : "}}", null, p));
                    finishTag(end);
                    return;
                }
            }
            if (p >= n) {
                throw JinjaError.syntax("unexpected end of template, expected '" + (block ? "%}" : "}}") + "'", tag);
            }
            int c = src.codePointAt(p);
            if (PyText.isSpace(c)) {
                p += Character.charCount(c);
                continue;
            }
            Matcher number = NUMBER.matcher(src).region(p, n);
            if (Character.isDigit(c) && number.lookingAt()) {
                p = number(number, p);
                continue;
            }
            Matcher name = NAME.matcher(src).region(p, n);
            if (name.lookingAt()) {
                tokens.add(new Token(Kind.NAME, name.group(), name.group(), p));
                p = name.end();
                continue;
            }
            if (c == '\'' || c == '"') {
                p = string(p);
                continue;
            }
            p = operator(p, brackets);
        }
    }

    private int tagEnd(int p, boolean block) {
        String close = block ? "%}" : "}}";
        if (src.startsWith("-" + close, p)) return skipSpace(p + 3);
        if (block && src.startsWith("+" + close, p)) return p + 3;
        if (src.startsWith(close, p)) {
            int end = p + 2;
            return block && end < src.length() && src.charAt(end) == '\n' ? end + 1 : end;
        }
        return -1;
    }

    private int number(Matcher m, int p) {
        String text = m.group();
        String digits = text.replace("_", "");
        boolean afterDot = p > 0 && src.charAt(p - 1) == '.';
        if (m.group(1) != null) {
            int radix = switch (Character.toLowerCase(digits.charAt(1))) {
                case 'b' -> 2;
                case 'o' -> 8;
                default -> 16;
            };
            tokens.add(new Token(Kind.INTEGER, text, Long.parseLong(digits.substring(2), radix), p));
            return m.end();
        }
        if (!afterDot && (m.group(7) != null || m.group(9) != null)) {
            tokens.add(new Token(Kind.FLOAT, text, Double.parseDouble(digits), p));
            return m.end();
        }
        // An integer: "foo.0.1" is two subscripts, so stop before any fraction.
        int end = m.end(5);
        String whole = src.substring(p, end).replace("_", "");
        try {
            tokens.add(new Token(Kind.INTEGER, src.substring(p, end), Long.parseLong(whole), p));
        } catch (NumberFormatException e) {
            throw JinjaError.syntax("integer literal " + whole + " is out of range", p);
        }
        return end;
    }

    private int string(int p) {
        char quote = src.charAt(p);
        int i = p + 1;
        while (i < src.length() && src.charAt(i) != quote) i += src.charAt(i) == '\\' ? 2 : 1;
        if (i >= src.length()) throw JinjaError.syntax("unexpected end of string", p);
        String value;
        try {
            value = unescape(src.substring(p + 1, i));
        } catch (JinjaError e) {
            throw JinjaError.syntax(e.getMessage(), p);
        }
        tokens.add(new Token(Kind.STRING, src.substring(p, i + 1), value, p));
        return i + 1;
    }

    /** Python's unicode-escape decoding, as jinja2 applies it to string literals. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case '\n' -> { }
                case '\\', '\'', '"' -> b.append(e);
                case 'a' -> b.append('\u0007');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'v' -> b.append('\u000b');
                case 'x', 'u', 'U' -> {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    String hex = s.substring(i + 1, Math.min(s.length(), i + 1 + len));
                    if (hex.length() != len || !hex.chars().allMatch(h -> Character.digit(h, 16) >= 0)) {
                        throw JinjaError.render("truncated \\" + e + " escape in string literal");
                    }
                    b.appendCodePoint(Integer.parseInt(hex, 16));
                    i += len;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int j = i, value = 0;
                        while (j < s.length() && j < i + 3 && s.charAt(j) >= '0' && s.charAt(j) <= '7') {
                            value = value * 8 + (s.charAt(j++) - '0');
                        }
                        b.append((char) value);
                        i = j - 1;
                    } else {
                        b.append('\\').append(e);
                    }
                }
            }
        }
        return b.toString();
    }

    private int operator(int p, Deque<String> brackets) {
        for (String op : OPERATORS) {
            if (!src.startsWith(op, p)) continue;
            switch (op) {
                case "{" -> brackets.push("}");
                case "(" -> brackets.push(")");
                case "[" -> brackets.push("]");
                case "}", ")", "]" -> {
                    if (brackets.isEmpty()) throw JinjaError.syntax("unexpected '" + op + "'", p);
                    String expected = brackets.pop();
                    if (!expected.equals(op)) {
                        throw JinjaError.syntax("unexpected '" + op + "', expected '" + expected + "'", p);
                    }
                }
                default -> {
                }
            }
            tokens.add(new Token(Kind.OPERATOR, op, op, p));
            return p + op.length();
        }
        throw JinjaError.syntax("unexpected char " + PyText.stringRepr(Character.toString(src.codePointAt(p))), p);
    }

    /** 1-based line and column of an offset in the normalised source. */
    static int[] lineColumn(String src, int offset) {
        int line = 1, lineStart = 0;
        for (int i = 0; i < Math.min(offset, src.length()); i++) {
            if (src.charAt(i) == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        return new int[] {line, offset - lineStart + 1};
    }
}
