package dev.specula.tokenizer;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * WordPiece as llama.cpp runs BERT vocabularies (tokenizer.ggml.model = bert): NFD with accents
 * stripped, lower case,
 * punctuation and CJK characters as words of their own, then greedy longest match of
 * "\u2581word" against the vocabulary; a word that cannot be covered becomes the unknown token.
 */
final class WordPieceModel implements TokenizerModel {
    private final Vocabulary vocab;

    WordPieceModel(Vocabulary vocab) {
        this.vocab = vocab;
    }

    @Override
    public void encode(String text, boolean afterSpecial, List<Integer> out) {
        for (String word : words(text)) {
            String w = SentencePieceModel.SPACE_MARK + word;
            int before = out.size();
            for (int i = 0; i < w.length(); ) {
                int matched = -1;
                for (int j = Math.min(w.length(), i + vocab.maxTokenChars()); j > i; j--) {
                    int id = vocab.id(w.substring(i, j));
                    if (id >= 0) {
                        out.add(id);
                        matched = j;
                        break;
                    }
                }
                if (matched < 0) {
                    out.subList(before, out.size()).clear();
                    break;
                }
                i = matched;
            }
            if (out.size() == before) out.add(vocab.unk);
        }
    }

    static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        String nfd = Normalizer.normalize(text, Normalizer.Form.NFD);
        for (int i = 0; i < nfd.length(); ) {
            int cp = nfd.codePointAt(i);
            i += Character.charCount(cp);
            if (isWhitespace(cp)) {
                flush(cur, words);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(type)) continue;
            if (isAccentMark(type)) continue; // accents are stripped: NFD split them off above
            int lower = Character.toLowerCase(cp);
            if (isPunctuation(type) || (cp < 0x7F && isSymbol(type)) || isChinese(cp)) {
                flush(cur, words);
                words.add(new String(Character.toChars(lower)));
            } else {
                cur.appendCodePoint(lower);
            }
        }
        flush(cur, words);
        return words;
    }

    private static void flush(StringBuilder cur, List<String> words) {
        if (!cur.isEmpty()) words.add(cur.toString());
        cur.setLength(0);
    }

    /** Unicode White_Space, as llama.cpp's tables define it. */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    private static boolean isControl(int type) {
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.PRIVATE_USE
                || type == Character.SURROGATE || type == Character.UNASSIGNED;
    }

    private static boolean isAccentMark(int type) {
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK || type == Character.ENCLOSING_MARK;
    }

    private static boolean isPunctuation(int type) {
        return switch (type) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static boolean isSymbol(int type) {
        return type == Character.MATH_SYMBOL || type == Character.CURRENCY_SYMBOL
                || type == Character.MODIFIER_SYMBOL || type == Character.OTHER_SYMBOL;
    }

    private static boolean isChinese(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    @Override
    public byte[] bytes(int id) {
        return vocab.text(id).replace(SentencePieceModel.SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }
}
