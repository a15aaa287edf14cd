package dev.specula.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns token ids into text as they are generated. Byte tokens can split a character across
 * tokens, so bytes that do not yet form a whole UTF-8 character are held back until they do;
 * every string returned is valid text, and the pieces concatenate to {@link Tokenizer#decode}.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean renderSpecial;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    /** Whether the next piece starts the text (a SentencePiece word start then loses its space). */
    private boolean first;

    StreamingDecoder(Tokenizer tokenizer, boolean renderSpecial, boolean startsText) {
        this.tokenizer = tokenizer;
        this.renderSpecial = renderSpecial;
        this.first = startsText;
    }

    /** The text that token {@code id} completes (possibly empty). */
    public String accept(int id) {
        byte[] piece = tokenizer.pieceBytes(id, renderSpecial, first);
        if (first && piece.length > 0) first = false;
        pending.writeBytes(piece);
        byte[] all = pending.toByteArray();
        int complete = completePrefix(all);
        pending.reset();
        pending.write(all, complete, all.length - complete);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Whatever is still held back (an incomplete character at the end becomes U+FFFD). */
    public String flush() {
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /** Length of the longest prefix not ending inside a UTF-8 sequence that may still complete. */
    static int completePrefix(byte[] b) {
        int n = b.length;
        // Look back at most 3 bytes for the start of a multi-byte sequence.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xff;
            if ((c & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n; // stray continuation bytes: emit them (they decode to U+FFFD) instead of stalling
    }
}
