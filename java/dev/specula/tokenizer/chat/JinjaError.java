package dev.specula.tokenizer.chat;

/**
 * An error inside the Jinja engine. Operations on values throw it without a position; the
 * renderer attaches the position of the statement or call that was running, and
 * {@link ChatTemplate} turns it into a {@link ChatTemplateException} naming the template.
 */
final class JinjaError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    final ChatTemplateException.Kind kind;
    /** Offset in the (newline-normalised) template source, or -1 until the renderer sets it. */
    int position = -1;

    JinjaError(ChatTemplateException.Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    static JinjaError render(String message) {
        return new JinjaError(ChatTemplateException.Kind.RENDER, message);
    }

    static JinjaError syntax(String message, int position) {
        JinjaError e = new JinjaError(ChatTemplateException.Kind.SYNTAX, message);
        e.position = position;
        return e;
    }

    JinjaError at(int position) {
        if (this.position < 0) this.position = position;
        return this;
    }
}
