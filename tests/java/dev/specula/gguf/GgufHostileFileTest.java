package dev.specula.gguf;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Truncated, corrupted and hostile files: each must fail with one {@link GgufFormatException}
 * that names the file, the field at fault and (where it has one) its offset.
 */
class GgufHostileFileTest {
    @TempDir Path tmp;

    /** A small valid file: a few keys, an array, an F32 and a Q8_0 tensor. */
    static byte[] base() {
        byte[] q8 = new byte[2 * 34];
        return new GgufWriter()
                .putString("general.architecture", "llama")
                .putBool("flag", true)
                .putArray("arr", new GgufArray(GgufValueType.INT32, new int[] {1, 2, 3}))
                .addF32Tensor("first.weight", new long[] {8, 2}, new float[16])
                .addTensor("second.weight", GgmlType.Q8_0, new long[] {64}, q8)
                .toBytes();
    }

    private GgufFormatException refused(byte[] bytes) throws IOException {
        Path p = tmp.resolve("bad.gguf");
        Files.write(p, bytes);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().startsWith("bad.gguf: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    private void assertRefused(byte[] bytes, String expected) throws IOException {
        GgufFormatException e = refused(bytes);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    private static byte[] patched(Consumer<ByteBuffer> edit) {
        byte[] b = base();
        edit.accept(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN));
        return b;
    }

    /** Offset of the first byte after the length-prefixed string {@code s} in the base file. */
    static int after(byte[] file, String s) {
        byte[] needle = s.getBytes(StandardCharsets.UTF_8);
        outer:
        for (int i = 8; i + needle.length <= file.length; i++) {
            for (int j = 0; j < needle.length; j++) if (file[i + j] != needle[j]) continue outer;
            if (ByteBuffer.wrap(file, i - 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong() == needle.length) {
                return i + needle.length;
            }
        }
        throw new AssertionError("string not in file: " + s);
    }

    static final byte[] BASE = base();
    static final int FIRST_INFO = after(BASE, "first.weight");   // -> n_dims of the first tensor
    static final int SECOND_INFO = after(BASE, "second.weight"); // -> n_dims of the second tensor

    @Test
    void emptyFile() throws IOException {
        assertRefused(new byte[0], "file is empty");
    }

    @Test
    void wrongMagic() throws IOException {
        GgufFormatException e = refused(patched(b -> b.putInt(0, 0x4c4c4747)));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
        assertEquals(0, e.offset());
    }

    @Test
    void unsupportedVersions() throws IOException {
        assertRefused(patched(b -> b.putInt(4, 1)), "GGUF version 1 is not supported");
        assertRefused(patched(b -> b.putInt(4, 4)), "GGUF version 4 is not supported");
        assertRefused(patched(b -> b.putInt(4, 0x03000000)), "big-endian GGUF files are not supported");
    }

    @Test
    void countsLargerThanTheFile() throws IOException {
        assertRefused(patched(b -> b.putLong(8, 1L << 40)), "tensor count is 1099511627776");
        assertRefused(patched(b -> b.putLong(8, -1L)), "tensor count is 18446744073709551615");
        assertRefused(patched(b -> b.putLong(16, 1L << 50)), "metadata key/value count");
    }

    @Test
    void stringLengthPastTheEnd() throws IOException {
        GgufFormatException e = refused(patched(b -> b.putLong(24, 1L << 40)));
        assertTrue(e.getMessage().contains("metadata key 0 length 1099511627776 runs past the end"), e.getMessage());
        assertEquals(24, e.offset());
    }

    @Test
    void unknownMetadataValueType() throws IOException {
        int typeAt = after(BASE, "general.architecture");
        assertRefused(patched(b -> b.putInt(typeAt, 13)), "metadata key 'general.architecture' has unknown value type id 13");
    }

    @Test
    void arrayElementCountPastTheEnd() throws IOException {
        int countAt = after(BASE, "arr") + 4 + 4;
        assertRefused(patched(b -> b.putLong(countAt, 1L << 33)), "metadata key 'arr' element count");
        int elemTypeAt = after(BASE, "arr") + 4;
        assertRefused(patched(b -> b.putInt(elemTypeAt, 99)), "unknown array element type id 99");
    }

    @Test
    void boolOtherThanZeroOrOne() throws IOException {
        int valueAt = after(BASE, "flag") + 4;
        assertRefused(patched(b -> b.put(valueAt, (byte) 2)), "metadata key 'flag' is a BOOL with value 2");
    }

    @Test
    void duplicateKey() throws IOException {
        // Rename "flag" to "arr\0"? Names must stay the same length: turn key "arr" into "arr" twice by
        // writing a file with two keys that differ, then patching the second to equal the first.
        byte[] b = new GgufWriter().putString("k1", "a").putString("k2", "b").toBytes();
        b[after(b, "k2") - 1] = '1';
        assertRefused(b, "metadata key 'k1' appears twice");
    }

    @Test
    void badAlignment() throws IOException {
        byte[] b = new GgufWriter().alignment(64).addF32Tensor("t", new long[] {4}, new float[4]).toBytes();
        int valueAt = after(b, "general.alignment") + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(valueAt, 48);
        assertRefused(b, "general.alignment is 48, expected a power of two");
        byte[] s = new GgufWriter().putString("general.alignment", "32").toBytes();
        assertRefused(s, "general.alignment is STRING, expected UINT32");
    }

    @Test
    void tensorDimensionsOutOfRange() throws IOException {
        assertRefused(patched(b -> b.putInt(FIRST_INFO, 5)), "tensor 'first.weight' has n_dims 5, expected 1..4");
        assertRefused(patched(b -> b.putInt(FIRST_INFO, 0)), "tensor 'first.weight' has n_dims 0");
        assertRefused(patched(b -> b.putLong(FIRST_INFO + 4, -8)), "tensor 'first.weight' dimension 0 is 18446744073709551608");
        assertRefused(patched(b -> {
            b.putLong(FIRST_INFO + 4, 1L << 40);
            b.putLong(FIRST_INFO + 12, 1L << 40);
        }), "tensor 'first.weight' has more elements than fit in 63 bits");
    }

    @Test
    void tensorTypeUnknownOrMisShaped() throws IOException {
        int firstTypeAt = FIRST_INFO + 4 + 16;
        assertRefused(patched(b -> b.putInt(firstTypeAt, 4)), "tensor 'first.weight' has unknown type id 4");
        assertRefused(patched(b -> b.putInt(firstTypeAt, 1000)), "unknown type id 1000");
        assertRefused(patched(b -> b.putLong(SECOND_INFO + 4, 48)),
                "tensor 'second.weight' of type Q8_0 has first dimension 48, not a multiple of the block size 32");
    }

    @Test
    void tensorOffsetsMisalignedOutsideOrOverlapping() throws IOException {
        int secondOffsetAt = SECOND_INFO + 4 + 8 + 4;
        assertRefused(patched(b -> b.putLong(secondOffsetAt, b.getLong(secondOffsetAt) + 4)),
                "tensor 'second.weight' data offset 68 is not a multiple of the alignment 32");
        assertRefused(patched(b -> b.putLong(secondOffsetAt, 1L << 40)), "tensor 'second.weight' data");
        assertRefused(patched(b -> b.putLong(secondOffsetAt, 0)), "tensor 'second.weight' overlaps the data of tensor 'first.weight'");
    }

    @Test
    void tensorNameRepeatedOrTooLong() throws IOException {
        byte[] b = new GgufWriter().addF32Tensor("t1", new long[] {4}, new float[4])
                .addF32Tensor("t2", new long[] {4}, new float[4]).toBytes();
        b[after(b, "t2") - 1] = '1';
        assertRefused(b, "tensor 't1' appears twice");
        String longName = "blk.0." + "x".repeat(60);
        assertRefused(new GgufWriter().addF32Tensor(longName, new long[] {4}, new float[4]).toBytes(),
                "name is longer than 63 bytes");
    }

    @Test
    void arraysNestedTooDeep() throws IOException {
        GgufArray a = new GgufArray(GgufValueType.INT32, new int[] {1});
        for (int i = 0; i < 12; i++) a = new GgufArray(GgufValueType.ARRAY, new GgufArray[] {a});
        assertRefused(new GgufWriter().putArray("deep", a).toBytes(), "arrays nested deeper than 8");
    }

    @Test
    void everyTruncationIsReportedNotCrashed() throws IOException {
        // Padding after the last tensor's data carries nothing, so the file may end right after it.
        int lastDataByte = BASE.length - (96 - 68);
        for (int len = 1; len < lastDataByte; len++) {
            GgufFormatException e = refused(Arrays.copyOf(BASE, len));
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("past the end")
                    || e.getMessage().contains("left"), "at length " + len + ": " + e.getMessage());
        }
    }

    @Test
    void randomCorruptionNeverEscapesAsAnotherException() throws IOException {
        Random rnd = new Random(0x5eC);
        Path p = tmp.resolve("fuzz.gguf");
        int refusedCount = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] b = BASE.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int i = 0; i < flips; i++) {
                int at = rnd.nextInt(b.length);
                b[at] = rnd.nextInt(3) == 0 ? (byte) 0xff : (byte) rnd.nextInt(256);
            }
            Files.write(p, b);
            try (GgufFile f = GgufFile.open(p)) {
                for (GgufTensor t : f.tensors()) {
                    assertTrue(t.fileOffset() + t.byteSize() <= b.length, t.name());
                }
            } catch (GgufFormatException expected) {
                refusedCount++;
            }
        }
        assertTrue(refusedCount > 100, "the corruptions should mostly be detected, got " + refusedCount);
    }
}
