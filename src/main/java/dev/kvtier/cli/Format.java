package dev.kvtier.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Human-readable numbers and two-column tables for the command line. */
final class Format {
    private Format() {
    }

    static String bytes(long n) {
        if (n >= 1L << 30 && n % (1L << 30) == 0) {
            return (n >> 30) + " GiB";
        }
        if (n >= 1L << 20 && n % (1L << 20) == 0) {
            return (n >> 20) + " MiB";
        }
        if (n >= 1L << 10 && n % (1L << 10) == 0) {
            return (n >> 10) + " KiB";
        }
        return n + " B";
    }

    static String rate(long bytes, long nanos) {
        return nanos <= 0 ? "n/a" : String.format(Locale.ROOT, "%.2f GiB/s", gibPerSecond(bytes, nanos));
    }

    static double gibPerSecond(long bytes, long nanos) {
        return nanos <= 0 ? 0 : bytes / (double) (1L << 30) / (nanos / 1e9);
    }

    static String micros(long nanos) {
        return String.format(Locale.ROOT, "%.1f us", nanos / 1e3);
    }

    /** Rows of (label, value), printed with the labels padded to one width. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        void row(String label, String value) {
            rows.add(new String[] {label, value});
        }

        void print(PrintStream out) {
            int w = 0;
            for (String[] r : rows) {
                w = Math.max(w, r[0].length());
            }
            for (String[] r : rows) {
                out.printf("  %-" + w + "s  %s%n", r[0], r[1]);
            }
        }
    }
}
