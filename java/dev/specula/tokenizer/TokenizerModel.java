package dev.specula.tokenizer;

import java.util.List;

/** One tokenisation algorithm (SentencePiece, byte-level BPE, WordPiece) over plain text. */
interface TokenizerModel {
    /**
     * Appends the ids of {@code text}, a fragment with no special tokens in it.
     * {@code afterSpecial} tells whether it follows a special token or the start of the input.
     */
    void encode(String text, boolean afterSpecial, List<Integer> out);

    /** The bytes token {@code id} stands for when it is a plain (non-special) token. */
    byte[] bytes(int id);
}
