package dev.specula.tokenizer;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Text to token ids and back, built from a GGUF file's tokenizer metadata, matching llama.cpp:
 * SentencePiece ({@code llama}), byte-level BPE ({@code gpt2}) and WordPiece ({@code bert}).
 * Special tokens in the text are recognised when asked ({@code parseSpecial}); user-defined
 * tokens always are, as in llama.cpp.
 */
public final class Tokenizer {
    private static final byte[] UNKNOWN_PIECE = "\u2585".getBytes(StandardCharsets.UTF_8);

    private final Vocabulary vocab;
    private final TokenizerModel model;
    private final int[] specialsLongestFirst;

    private Tokenizer(Vocabulary vocab, TokenizerModel model) {
        this.vocab = vocab;
        this.model = model;
        List<Integer> specials = new ArrayList<>();
        for (int i = 0; i < vocab.size(); i++) if (vocab.isSpecial(i) && !vocab.text(i).isEmpty()) specials.add(i);
        specials.sort(Comparator.comparingInt((Integer i) -> -vocab.text(i).length()).thenComparingInt(i -> i));
        specialsLongestFirst = specials.stream().mapToInt(Integer::intValue).toArray();
    }

    public static Tokenizer fromGguf(GgufFile file) {
        Vocabulary v = new Vocabulary(file.path(), file.metadata());
        TokenizerModel m = switch (v.model) {
            case "llama" -> new SentencePieceModel(v);
            case "gpt2" -> new BytePairModel(file.path(), file.metadata(), v);
            case "bert" -> new WordPieceModel(v);
            default -> throw new GgufFormatException(file.path(), -1, "tokenizer.ggml.model '" + v.model
                    + "' is not supported (Specula reads llama, gpt2 and bert tokenizers)");
        };
        return new Tokenizer(v, m);
    }

    public Vocabulary vocabulary() {
        return vocab;
    }

    /**
     * Token ids of {@code text}. {@code addSpecial} adds BOS/EOS as the file asks;
     * {@code parseSpecial} turns control-token texts such as {@code <|im_start|>} into those tokens.
     */
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        List<Integer> out = new ArrayList<>();
        boolean wordPiece = model instanceof WordPieceModel;
        if (addSpecial && vocab.addBos && vocab.bos >= 0) out.add(vocab.bos);
        boolean afterSpecial = true;
        for (Object fragment : partition(text, parseSpecial)) {
            if (fragment instanceof Integer id) {
                out.add(id);
                afterSpecial = true;
            } else {
                model.encode((String) fragment, afterSpecial, out);
                afterSpecial = false;
            }
        }
        if (addSpecial && wordPiece) {
            int end = vocab.sep >= 0 ? vocab.sep : vocab.eos;
            if (end >= 0) out.add(end);
        } else if (addSpecial && vocab.addEos && vocab.eos >= 0) {
            out.add(vocab.eos);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Splits text into raw strings and special-token ids (Integer), longest special token first. */
    private List<Object> partition(String text, boolean parseSpecial) {
        List<Object> parts = new ArrayList<>();
        if (!text.isEmpty()) parts.add(text);
        for (int id : specialsLongestFirst) {
            if (!parseSpecial && vocab.type(id) != Vocabulary.USER_DEFINED) continue;
            String special = vocab.text(id);
            List<Object> next = new ArrayList<>(parts.size());
            for (Object p : parts) {
                if (!(p instanceof String s) || !s.contains(special)) {
                    next.add(p);
                    continue;
                }
                int at = 0;
                for (int hit = s.indexOf(special); hit >= 0; hit = s.indexOf(special, at)) {
                    if (hit > at) next.add(s.substring(at, hit));
                    next.add(id);
                    at = hit + special.length();
                }
                if (at < s.length()) next.add(s.substring(at));
            }
            parts = next;
        }
        return parts;
    }

    /** The text of {@code ids}; special tokens are rendered only when {@code renderSpecial}. */
    public String decode(int[] ids, boolean renderSpecial) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean first = true;
        for (int id : ids) {
            byte[] piece = pieceBytes(id, renderSpecial, first);
            if (piece.length > 0) first = false;
            out.writeBytes(piece);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * The bytes token {@code id} stands for in the middle of a text (a SentencePiece word start
     * keeps its space; a control token is empty); a byte token may be part of a character.
     */
    public byte[] tokenBytes(int id) {
        return pieceBytes(id, false, false);
    }

    public StreamingDecoder streamingDecoder(boolean renderSpecial) {
        return new StreamingDecoder(this, renderSpecial, true);
    }

    /**
     * A streaming decoder for tokens that continue a text (generated after a prompt): the first
     * piece keeps its leading space, so that prompt + output reads as {@link #decode} of both.
     */
    public StreamingDecoder continuationDecoder(boolean renderSpecial) {
        return new StreamingDecoder(this, renderSpecial, false);
    }

    /** The bytes of one token; the first piece of a SentencePiece text loses its prefix space. */
    byte[] pieceBytes(int id, boolean renderSpecial, boolean first) {
        if (id < 0 || id >= vocab.size()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocab.size());
        byte[] b = switch (vocab.type(id)) {
            case Vocabulary.CONTROL -> renderSpecial ? vocab.text(id).getBytes(StandardCharsets.UTF_8) : new byte[0];
            case Vocabulary.UNKNOWN -> UNKNOWN_PIECE;
            case Vocabulary.USER_DEFINED -> model instanceof BytePairModel
                    ? vocab.text(id).getBytes(StandardCharsets.UTF_8) : model.bytes(id);
            default -> model.bytes(id);
        };
        if (first && vocab.addSpacePrefix && model instanceof SentencePieceModel && b.length > 0 && b[0] == ' '
                && vocab.type(id) != Vocabulary.CONTROL) {
            return java.util.Arrays.copyOfRange(b, 1, b.length);
        }
        return b;
    }
}
