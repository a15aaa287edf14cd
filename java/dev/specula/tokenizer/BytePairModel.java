package dev.specula.tokenizer;

import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufMetadata;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Byte-level BPE (tokenizer.ggml.model = gpt2): pre-tokenise, map each word's UTF-8 bytes to the
 * printable characters GPT-2 uses for them, then apply merges lowest rank first.
 */
final class BytePairModel implements TokenizerModel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        // GPT-2's table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_TO_CHAR[b] = (char) (printable ? b : next++);
            CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
        }
    }

    private final Vocabulary vocab;
    private final PreTokenizer pre;
    private final Map<String, Integer> ranks;
    private final boolean ignoreMerges;

    BytePairModel(Path file, GgufMetadata m, Vocabulary vocab) {
        this.vocab = vocab;
        this.pre = PreTokenizer.named(vocab.pre);
        if (pre == null) {
            throw new GgufFormatException(file, -1, "tokenizer.ggml.pre '" + vocab.pre
                    + "' is not supported (Specula knows " + PreTokenizer.names() + ")");
        }
        this.ignoreMerges = PreTokenizer.IGNORE_MERGES.contains(vocab.pre);
        String[] merges = m.getStrings("tokenizer.ggml.merges");
        ranks = new HashMap<>(merges.length * 2);
        for (int i = 0; i < merges.length; i++) {
            int sp = merges[i].indexOf(' ', 1);
            if (sp < 0) throw new GgufFormatException(file, -1, "tokenizer.ggml.merges[" + i + "] '" + merges[i] + "' is not two tokens");
            ranks.putIfAbsent(merges[i], i);
        }
    }

    private record Pair(int left, int right, int rank, int length) {}

    @Override
    public void encode(String text, boolean afterSpecial, List<Integer> out) {
        for (String word : pre.split(text)) encodeWord(toByteChars(word), out);
    }

    static String toByteChars(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        char[] c = new char[b.length];
        for (int i = 0; i < b.length; i++) c[i] = BYTE_TO_CHAR[b[i] & 0xff];
        return new String(c);
    }

    private void encodeWord(String word, List<Integer> out) {
        if (ignoreMerges) {
            int id = vocab.id(word);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        int n = word.length(); // one char per byte: byte-level symbols never need surrogates
        int[] start = new int[n], end = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            start[i] = i;
            end[i] = i + 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Pair> queue = new PriorityQueue<>((a, b) -> a.rank != b.rank ? Integer.compare(a.rank, b.rank) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) addPair(word, start, end, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Pair p = queue.poll();
            int l = p.left, r = p.right;
            if (start[l] == end[l] || start[r] == end[r] || (end[l] - start[l]) + (end[r] - start[r]) != p.length
                    || next[l] != r) continue;
            end[l] = end[r];
            start[r] = end[r];
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) addPair(word, start, end, prev[l], l, queue);
            if (next[l] >= 0) addPair(word, start, end, l, next[l], queue);
        }
        for (int i = 0; i >= 0 && i < n; i = next[i]) {
            String piece = word.substring(start[i], end[i]);
            int id = vocab.id(piece);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            for (int k = 0; k < piece.length(); k++) { // llama.cpp: fall back to single byte tokens
                int b = vocab.id(piece.substring(k, k + 1));
                if (b >= 0) out.add(b);
            }
        }
    }

    private void addPair(String word, int[] start, int[] end, int l, int r, PriorityQueue<Pair> queue) {
        Integer rank = ranks.get(word.substring(start[l], end[l]) + " " + word.substring(start[r], end[r]));
        if (rank != null) queue.add(new Pair(l, r, rank, end[r] - start[l]));
    }

    @Override
    public byte[] bytes(int id) {
        String t = vocab.text(id);
        byte[] out = new byte[t.length()];
        int n = 0;
        for (int i = 0; i < t.length(); i++) {
            char ch = t.charAt(i);
            int b = ch < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[ch] : -1;
            if (b < 0) return t.getBytes(StandardCharsets.UTF_8); // not a byte-level token: its own text
            out[n++] = (byte) b;
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
