package dev.specula.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A GitHub-markdown table with aligned columns: readable in a terminal, pasteable into a README. */
final class TextTable {
    private final String[] headers;
    private final boolean[] rightAligned;
    private final List<String[]> rows = new ArrayList<>();

    /** Headers ending in ':' are right-aligned (numbers); the ':' is not printed. */
    TextTable(String... headers) {
        this.headers = new String[headers.length];
        this.rightAligned = new boolean[headers.length];
        for (int i = 0; i < headers.length; i++) {
            rightAligned[i] = headers[i].endsWith(":");
            this.headers[i] = rightAligned[i] ? headers[i].substring(0, headers[i].length() - 1) : headers[i];
        }
    }

    TextTable row(Object... cells) {
        if (cells.length != headers.length) throw new IllegalArgumentException("row has " + cells.length + " cells");
        String[] r = new String[cells.length];
        for (int i = 0; i < cells.length; i++) r[i] = String.valueOf(cells[i]);
        rows.add(r);
        return this;
    }

    void print(PrintWriter out) {
        int[] w = new int[headers.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.max(3, headers[i].length());
            for (String[] r : rows) w[i] = Math.max(w[i], r[i].length());
        }
        out.println(line(headers, w));
        StringBuilder sep = new StringBuilder("|");
        for (int i = 0; i < w.length; i++) {
            sep.append(' ').append("-".repeat(w[i] - (rightAligned[i] ? 1 : 0))).append(rightAligned[i] ? ":" : "").append(" |");
        }
        out.println(sep);
        for (String[] r : rows) out.println(line(r, w));
    }

    private String line(String[] cells, int[] w) {
        StringBuilder sb = new StringBuilder("|");
        for (int i = 0; i < cells.length; i++) {
            String pad = " ".repeat(w[i] - cells[i].length());
            sb.append(' ').append(rightAligned[i] ? pad + cells[i] : cells[i] + pad).append(" |");
        }
        return sb.toString();
    }
}
