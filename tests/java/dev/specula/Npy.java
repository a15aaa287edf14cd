package dev.specula;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the NumPy .npy files of the reference fixtures (little-endian int32 / float32, C order). */
public record Npy(String dtype, int[] shape, ByteBuffer data) {
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    public static Npy read(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.get(0) != (byte) 0x93 || b.get(1) != 'N') throw new IOException(p + ": not an .npy file");
        int major = b.get(6);
        int headerLen = major == 1 ? Short.toUnsignedInt(b.getShort(8)) : b.getInt(8);
        int start = major == 1 ? 10 : 12;
        String header = new String(b.array(), start, headerLen, StandardCharsets.US_ASCII);
        Matcher d = DESCR.matcher(header), s = SHAPE.matcher(header);
        if (!d.find() || !s.find() || header.contains("'fortran_order': True")) throw new IOException(p + ": unexpected header " + header);
        String[] dims = s.group(1).split(",");
        int n = 0;
        int[] shape = new int[dims.length];
        for (String dim : dims) if (!dim.isBlank()) shape[n++] = Integer.parseInt(dim.strip());
        return new Npy(d.group(1), java.util.Arrays.copyOf(shape, n), b.position(start + headerLen).slice().order(ByteOrder.LITTLE_ENDIAN));
    }

    public int[] ints() {
        if (!dtype.equals("<i4")) throw new IllegalStateException("dtype " + dtype);
        int[] out = new int[data.remaining() / 4];
        data.asIntBuffer().get(out);
        return out;
    }

    public float[][] floatMatrix() {
        if (!dtype.equals("<f4") || shape.length != 2) throw new IllegalStateException("dtype " + dtype);
        float[][] out = new float[shape[0]][shape[1]];
        var fb = data.asFloatBuffer();
        for (float[] row : out) fb.get(row);
        return out;
    }
}
