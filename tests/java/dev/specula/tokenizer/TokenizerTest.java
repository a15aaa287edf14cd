package dev.specula.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.Npy;
import dev.specula.TestFiles;
import dev.specula.gguf.GgufArray;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufValueType;
import dev.specula.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenizerTest {
    @TempDir Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"p1", "p2", "p3"})
    void storiesPromptsTokeniseLikeLlamaCppWithBos(String prompt) throws IOException {
        Path dir = TestFiles.shared().resolve("fixtures/logits");
        String text = Files.readString(TestFiles.require(dir.resolve("stories260K." + prompt + ".prompt.txt"))).strip();
        int[] reference = Npy.read(dir.resolve("stories260K." + prompt + ".tokens.npy")).ints();
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            Tokenizer t = Tokenizer.fromGguf(f);
            int[] ids = t.encode(text, true, false);
            assertArrayEquals(Arrays.copyOf(reference, ids.length), ids);
            assertEquals(reference.length - 48, ids.length, "prompt length");
            assertEquals(text, t.decode(ids));
        }
    }

    @Test
    void byteFallbackAndStreamingKeepCharactersWhole() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            Tokenizer t = Tokenizer.fromGguf(f);
            String text = "Héllo 👋 世界";
            int[] ids = t.encode(text, true, false);
            // From llama.cpp's llama-tokenize on the same file.
            assertArrayEquals(new int[] {1, 320, 485, 306, 414, 410, 243, 162, 148, 142, 410, 231, 187, 153, 234, 152, 143}, ids);
            StreamingDecoder d = t.streamingDecoder(false);
            StringBuilder sb = new StringBuilder();
            int emptyPieces = 0;
            for (int id : ids) {
                String piece = d.accept(id);
                assertFalse(piece.contains("\uFFFD"), piece);
                if (piece.isEmpty()) emptyPieces++;
                sb.append(piece);
            }
            assertEquals(text, sb.toString());
            assertTrue(emptyPieces >= 8, "bytes of multi-byte characters are held back until complete");
        }
    }

    @Test
    void specialTokensAreParsedOnlyWhenAsked() {
        try (GgufFile f = GgufFile.open(TestFiles.tokenizerFixture("ggml-vocab-qwen2.gguf"))) {
            Tokenizer t = Tokenizer.fromGguf(f);
            String text = "<|im_start|>user\nHi 👋<|im_end|>";
            // From llama.cpp's llama-tokenize (which parses special tokens).
            assertArrayEquals(new int[] {151644, 872, 198, 13048, 61804, 233, 151645}, t.encode(text, false, true));
            int[] literal = t.encode(text, false, false);
            assertFalse(Arrays.stream(literal).anyMatch(id -> id == 151644), "not parsed: spelled out as text");
            assertEquals(text, t.decode(literal));
            assertEquals("user\nHi 👋", t.decode(t.encode(text, false, true)));
            assertEquals(text, t.decode(t.encode(text, false, true), true));
            assertTrue(t.vocabulary().isEndOfGeneration(151645), "<|im_end|> ends a turn");
            assertTrue(t.vocabulary().isEndOfGeneration(t.vocabulary().eos));
            assertFalse(t.vocabulary().isEndOfGeneration(872));
        }
    }

    @Test
    void bosAndEosFollowTheFileFlags() throws IOException {
        Path p = tmp.resolve("v.gguf");
        writeVocab(p, w -> w.putBool("tokenizer.ggml.add_eos_token", true));
        try (GgufFile f = GgufFile.open(p)) {
            Tokenizer t = Tokenizer.fromGguf(f);
            assertArrayEquals(new int[] {1, 3, 4, 2}, t.encode("ab", true, false));
            assertArrayEquals(new int[] {3, 4}, t.encode("ab", false, false));
            assertArrayEquals(new int[] {1, 2}, t.encode("", true, false));
            assertArrayEquals(new int[0], t.encode("", false, false));
        }
    }

    @Test
    void badMetadataIsNamedByKey() throws IOException {
        Path p = tmp.resolve("bad.gguf");
        writeVocab(p, w -> w.putArray("tokenizer.ggml.scores", new GgufArray(GgufValueType.FLOAT32, new float[2])));
        assertRefused(p, "metadata key 'tokenizer.ggml.scores' has 2 entries but tokenizer.ggml.tokens has 5");
        writeVocab(p, w -> w.putUInt32("tokenizer.ggml.eos_token_id", 77));
        assertRefused(p, "metadata key 'tokenizer.ggml.eos_token_id' is 77, outside the vocabulary of 5 tokens");
        writeVocab(p, w -> w.putString("tokenizer.ggml.model", "rwkv"));
        assertRefused(p, "tokenizer.ggml.model 'rwkv' is not supported");
        writeVocab(p, w -> w.putString("tokenizer.ggml.model", "gpt2").putString("tokenizer.ggml.pre", "mystery")
                .putStrings("tokenizer.ggml.merges", "a b"));
        assertRefused(p, "tokenizer.ggml.pre 'mystery' is not supported");
        new GgufWriter().putString("general.architecture", "llama").write(p);
        assertRefused(p, "the file has no tokenizer");
    }

    private static void assertRefused(Path p, String expected) {
        try (GgufFile f = GgufFile.open(p)) {
            var e = assertThrows(GgufFormatException.class, () -> Tokenizer.fromGguf(f));
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        }
    }

    /** A five-token SentencePiece vocabulary: unk, bos, eos, "a", "b" (no prefix space). */
    private static void writeVocab(Path p, java.util.function.Consumer<GgufWriter> edit) throws IOException {
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putString("tokenizer.ggml.model", "llama")
                .putStrings("tokenizer.ggml.tokens", "<unk>", "<s>", "</s>", "a", "b")
                .putArray("tokenizer.ggml.scores", new GgufArray(GgufValueType.FLOAT32, new float[5]))
                .putArray("tokenizer.ggml.token_type", new GgufArray(GgufValueType.INT32, new int[] {2, 3, 3, 1, 1}))
                .putBool("tokenizer.ggml.add_space_prefix", false);
        edit.accept(w);
        w.write(p);
    }
}
