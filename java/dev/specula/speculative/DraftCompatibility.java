package dev.specula.speculative;

import dev.specula.tokenizer.Vocabulary;

/**
 * Whether a draft model speaks the target's vocabulary, checked at load: the same tokenizer
 * model, begin/end tokens, vocabulary sizes within {@link #MAX_SIZE_DIFFERENCE}, and the same
 * text for every token id both have, special tokens included. Without that, a draft token id
 * would mean something else to the target.
 */
public final class DraftCompatibility {
    /** Largest difference in vocabulary size accepted (llama.cpp allows the same). */
    public static final int MAX_SIZE_DIFFERENCE = 128;

    private DraftCompatibility() {}

    /** Null when compatible, else a one-line reason naming the first difference. */
    public static String mismatch(Vocabulary target, Vocabulary draft) {
        if (!target.model.equals(draft.model)) {
            return "tokenizer model differs: target '" + target.model + "', draft '" + draft.model + "'";
        }
        if (Math.abs(target.size() - draft.size()) > MAX_SIZE_DIFFERENCE) {
            return "vocabulary sizes differ by more than " + MAX_SIZE_DIFFERENCE + ": target " + target.size() + ", draft " + draft.size();
        }
        if (target.bos != draft.bos || target.eos != draft.eos || target.addBos != draft.addBos) {
            return "begin/end tokens differ: target bos " + target.bos + " eos " + target.eos + " add_bos " + target.addBos
                    + ", draft bos " + draft.bos + " eos " + draft.eos + " add_bos " + draft.addBos;
        }
        int n = Math.min(target.size(), draft.size());
        for (int id = 0; id < n; id++) {
            if (!target.text(id).equals(draft.text(id)) || target.type(id) != draft.type(id)) {
                return "token " + id + " differs: target '" + escape(target.text(id)) + "' (type " + target.type(id) + "), draft '"
                        + escape(draft.text(id)) + "' (type " + draft.type(id) + ")";
            }
        }
        return null;
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char ch : s.toCharArray()) {
            if (ch < 0x20 || ch == 0x7f) b.append(String.format("\\x%02x", (int) ch));
            else b.append(ch);
        }
        return b.toString();
    }
}
