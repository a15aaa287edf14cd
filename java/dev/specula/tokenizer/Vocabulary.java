package dev.specula.tokenizer;

import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufMetadata;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The token table of a GGUF file ({@code tokenizer.ggml.*}): texts, scores, types and the special
 * ids, checked before use so that bad metadata is reported by key rather than misread.
 */
public final class Vocabulary {
    /** llama.cpp's token types (tokenizer.ggml.token_type). */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    /** Stored in some files for "no such token" (UINT32 -1). */
    private static final long NO_TOKEN = 0xFFFFFFFFL;

    private final String[] tokens;
    private final float[] scores;
    private final int[] types;
    private final Map<String, Integer> ids;
    public final String model;
    public final String pre;
    public final int bos, eos, eot, eom, unk, pad, sep;
    public final boolean addBos, addEos, addSpacePrefix;
    private final int maxTokenChars;
    private final int[] endOfGeneration;

    Vocabulary(Path file, GgufMetadata m) {
        if (!m.contains("tokenizer.ggml.model")) throw new GgufFormatException(file, -1, "metadata key 'tokenizer.ggml.model' is missing: the file has no tokenizer");
        model = m.getString("tokenizer.ggml.model");
        pre = m.optString("tokenizer.ggml.pre").orElse("default");
        tokens = m.getStrings("tokenizer.ggml.tokens");
        int n = tokens.length;
        if (n == 0) throw new GgufFormatException(file, -1, "metadata key 'tokenizer.ggml.tokens' is empty");
        scores = m.optArray("tokenizer.ggml.scores").map(a -> a.asFloats()).orElse(new float[n]);
        types = m.optArray("tokenizer.ggml.token_type").map(a -> a.asInts()).orElse(filled(n, NORMAL));
        if (scores.length != n) throw lengthMismatch(file, "tokenizer.ggml.scores", scores.length, n);
        if (types.length != n) throw lengthMismatch(file, "tokenizer.ggml.token_type", types.length, n);
        ids = new HashMap<>(n * 2);
        int longest = 0;
        for (int i = 0; i < n; i++) {
            ids.putIfAbsent(tokens[i], i);
            longest = Math.max(longest, tokens[i].length());
        }
        maxTokenChars = longest;
        boolean spm = model.equals("llama");
        bos = special(file, m, "bos", spm ? 1 : -1);
        eos = special(file, m, "eos", spm ? 2 : -1);
        eot = special(file, m, "eot", -1);
        eom = special(file, m, "eom", -1);
        unk = special(file, m, "unknown", spm ? 0 : -1);
        pad = special(file, m, "padding", -1);
        sep = special(file, m, "seperator", -1);
        addBos = m.getBool("tokenizer.ggml.add_bos_token", spm || model.equals("bert"));
        addEos = m.getBool("tokenizer.ggml.add_eos_token", model.equals("bert"));
        addSpacePrefix = m.getBool("tokenizer.ggml.add_space_prefix", spm);
        List<Integer> eog = new ArrayList<>();
        for (int id : new int[] {eos, eot, eom}) if (id >= 0 && !eog.contains(id)) eog.add(id);
        // Chat models end turns with tokens the metadata does not always name.
        for (String t : new String[] {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>"}) {
            Integer id = ids.get(t);
            if (id != null && types[id] == CONTROL && !eog.contains(id)) eog.add(id);
        }
        endOfGeneration = eog.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private static GgufFormatException lengthMismatch(Path file, String key, int got, int expected) {
        return new GgufFormatException(file, -1, "metadata key '" + key + "' has " + got + " entries but tokenizer.ggml.tokens has " + expected);
    }

    private int special(Path file, GgufMetadata m, String name, int fallback) {
        String key = "tokenizer.ggml." + name + "_token_id";
        if (!m.contains(key)) return fallback < tokens.length ? fallback : -1;
        long id = m.getLong(key);
        if (id == NO_TOKEN || id == -1) return -1;
        if (id < 0 || id >= tokens.length) {
            throw new GgufFormatException(file, m.get(key).get().offset(), "metadata key '" + key + "' is " + id
                    + ", outside the vocabulary of " + tokens.length + " tokens");
        }
        return (int) id;
    }

    public int size() {
        return tokens.length;
    }

    public String text(int id) {
        return tokens[id];
    }

    public float score(int id) {
        return scores[id];
    }

    public int type(int id) {
        return types[id];
    }

    /** The id of the token with exactly this text, or -1. */
    public int id(String text) {
        Integer id = ids.get(text);
        return id == null ? -1 : id;
    }

    int maxTokenChars() {
        return maxTokenChars;
    }

    /** True for control and user-defined tokens, which are matched in text before tokenising. */
    public boolean isSpecial(int id) {
        return types[id] == CONTROL || types[id] == USER_DEFINED || types[id] == UNKNOWN;
    }

    /** True for tokens that end generation: eos, eot, eom and the chat end-of-turn markers. */
    public boolean isEndOfGeneration(int id) {
        for (int e : endOfGeneration) if (e == id) return true;
        return false;
    }
}
