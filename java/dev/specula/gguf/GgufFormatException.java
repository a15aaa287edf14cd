package dev.specula.gguf;

import java.nio.file.Path;

/**
 * A GGUF file that cannot be used as it is. The message is one line naming the file, the field
 * at fault and its byte offset, so a user can tell a truncated download from a wrong file.
 */
public final class GgufFormatException extends RuntimeException {
    private final Path file;
    private final long offset;

    public GgufFormatException(Path file, long offset, String what) {
        super(file.getFileName() + ": " + what + (offset >= 0 ? " (at byte offset " + offset + ")" : ""));
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    /** Byte offset of the fault in the file, or -1 when the fault is not at one place. */
    public long offset() {
        return offset;
    }
}
