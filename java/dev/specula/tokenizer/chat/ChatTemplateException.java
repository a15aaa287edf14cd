package dev.specula.tokenizer.chat;

/**
 * A chat template that could not be parsed, that rejected a conversation through
 * {@code raise_exception}, or that failed while rendering. The message names the template and
 * the line and column at fault; {@link #detail()} is the bare reason (for {@link Kind#RAISED},
 * exactly the text the template passed to {@code raise_exception}).
 */
public final class ChatTemplateException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public enum Kind {
        /** The model has no chat template (and the caller did not opt into a default). */
        MISSING,
        /** The template text is not valid Jinja (or uses a tag, filter or test we do not have). */
        SYNTAX,
        /** The template called {@code raise_exception}: it does not accept this conversation. */
        RAISED,
        /** Rendering failed: an undefined value was used, or an operation had the wrong types. */
        RENDER
    }

    private final String template;
    private final Kind kind;
    private final String detail;
    private final int line;
    private final int column;

    public ChatTemplateException(String template, Kind kind, String detail, int line, int column) {
        super(format(template, kind, detail, line, column));
        this.template = template;
        this.kind = kind;
        this.detail = detail;
        this.line = line;
        this.column = column;
    }

    private static String format(String template, Kind kind, String detail, int line, int column) {
        String where = line > 0 ? " at line " + line + ", column " + column : "";
        String what = switch (kind) {
            case MISSING -> "is missing";
            case SYNTAX -> "has a syntax error";
            case RAISED -> "rejected the conversation";
            case RENDER -> "failed to render";
        };
        return "chat template '" + template + "' " + what + where + ": " + detail;
    }

    public String template() {
        return template;
    }

    public Kind kind() {
        return kind;
    }

    public String detail() {
        return detail;
    }

    /** 1-based line in the template source, or 0 when the error has no position. */
    public int line() {
        return line;
    }

    /** 1-based column in the template source, or 0 when the error has no position. */
    public int column() {
        return column;
    }
}
