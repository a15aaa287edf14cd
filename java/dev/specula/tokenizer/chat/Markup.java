package dev.specula.tokenizer.chat;

/**
 * Text marked safe ({@code |safe}, {@code |escape}). It prints as its text; like Python's
 * markupsafe.Markup, {@code +} with a plain string escapes the plain operand.
 */
record Markup(String text) {
    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&#34;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return text;
    }
}
