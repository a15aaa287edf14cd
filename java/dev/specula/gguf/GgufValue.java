package dev.specula.gguf;

/**
 * One metadata value as read from the file. Integers of every width are held as {@code Long}
 * (UINT64 values above Long.MAX_VALUE keep their bits), floats as {@code Float}/{@code Double},
 * BOOL as {@code Boolean}, STRING as {@code String} and ARRAY as {@link GgufArray}.
 *
 * @param offset byte offset of the value in its file, for error messages (-1 when built in memory)
 */
public record GgufValue(GgufValueType type, Object value, long offset) {

    public static GgufValue of(GgufValueType type, Object value) {
        return new GgufValue(type, value, -1);
    }

    @Override
    public String toString() {
        return switch (type) {
            case STRING -> '"' + (String) value + '"';
            case UINT64 -> Long.toUnsignedString((Long) value);
            default -> String.valueOf(value);
        };
    }
}
