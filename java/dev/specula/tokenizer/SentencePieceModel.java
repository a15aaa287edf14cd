package dev.specula.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * SentencePiece-style tokenisation as llama.cpp does it (tokenizer.ggml.model = llama): spaces
 * become U+2581, characters are merged pairwise by the highest score, and characters no token
 * covers fall back to {@code <0xNN>} byte tokens.
 */
final class SentencePieceModel implements TokenizerModel {
    static final char SPACE_MARK = '\u2581';

    private final Vocabulary vocab;
    private final int[] byteTokens = new int[256];

    SentencePieceModel(Vocabulary vocab) {
        this.vocab = vocab;
        for (int b = 0; b < 256; b++) byteTokens[b] = vocab.id(String.format("<0x%02X>", b));
    }

    private static final class Symbol {
        int start, end; // char range in the text
        int prev, next;
    }

    private record Bigram(int left, int right, float score, int length) {}

    @Override
    public void encode(String fragment, boolean afterSpecial, List<Integer> out) {
        String text = ((vocab.addSpacePrefix && afterSpecial) ? " " + fragment : fragment).replace(' ', SPACE_MARK);
        if (text.isEmpty()) return;
        int n = text.codePointCount(0, text.length());
        Symbol[] sym = new Symbol[n];
        for (int i = 0, at = 0; i < n; i++) {
            Symbol s = sym[i] = new Symbol();
            s.start = at;
            at = text.offsetByCodePoints(at, 1);
            s.end = at;
            s.prev = i - 1;
            s.next = i + 1 < n ? i + 1 : -1;
        }
        // Highest score first; among equal scores the leftmost pair (llama.cpp's order).
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) ->
                a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        Map<String, int[]> merges = new HashMap<>();
        for (int i = 1; i < n; i++) tryPair(text, sym, i - 1, i, queue, merges);
        while (!queue.isEmpty()) {
            Bigram bg = queue.poll();
            Symbol l = sym[bg.left], r = sym[bg.right];
            // Skip pairs one of whose symbols has since been merged into something else.
            if (l.start == l.end || r.start == r.end || (l.end - l.start) + (r.end - r.start) != bg.length) continue;
            l.end = r.end;
            r.start = r.end;
            l.next = r.next;
            if (r.next >= 0) sym[r.next].prev = bg.left;
            if (l.prev >= 0) tryPair(text, sym, l.prev, bg.left, queue, merges);
            if (l.next >= 0) tryPair(text, sym, bg.left, l.next, queue, merges);
        }
        for (int i = 0; i >= 0 && i < n; i = sym[i].next) resegment(text.substring(sym[i].start, sym[i].end), merges, out);
    }

    private void tryPair(String text, Symbol[] sym, int left, int right, PriorityQueue<Bigram> queue, Map<String, int[]> merges) {
        String piece = text.substring(sym[left].start, sym[right].end);
        int id = vocab.id(piece);
        if (id < 0) return;
        queue.add(new Bigram(left, right, vocab.score(id), piece.length()));
        merges.put(piece, new int[] {sym[left].end - sym[left].start, piece.length()});
    }

    /** Emits a merged piece, splitting it back along its merges when it is not itself a token. */
    private void resegment(String piece, Map<String, int[]> merges, List<Integer> out) {
        int id = vocab.id(piece);
        if (id >= 0) {
            out.add(id);
            return;
        }
        int[] split = merges.get(piece);
        if (split != null) {
            resegment(piece.substring(0, split[0]), merges, out);
            resegment(piece.substring(split[0]), merges, out);
            return;
        }
        for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
            int bt = byteTokens[b & 0xff];
            out.add(bt >= 0 ? bt : Math.max(vocab.unk, 0));
        }
    }

    @Override
    public byte[] bytes(int id) {
        String t = vocab.text(id);
        if (vocab.type(id) == Vocabulary.BYTE && t.length() == 6 && t.startsWith("<0x")) {
            return new byte[] {(byte) Integer.parseInt(t.substring(3, 5), 16)};
        }
        return t.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }
}
