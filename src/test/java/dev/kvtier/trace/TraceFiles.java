package dev.kvtier.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helpers: write inline trace files, expect a reading failure at a line. */
final class TraceFiles {
    private TraceFiles() {
    }

    static Path write(Path dir, String name, String content) {
        try {
            Path p = dir.resolve(name);
            Files.writeString(p, content, StandardCharsets.UTF_8);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads {@code content} as file {@code name} and expects a failure at {@code line} mentioning {@code problem}. */
    static TraceFormatException fails(Path dir, String name, TraceFormat format, String content, int line,
            String problem) {
        Path p = write(dir, name, content);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> Trace.read(p, format));
        String prefix = line > 0 ? name + " line " + line + ": " : name + ": ";
        assertTrue(e.getMessage().startsWith(prefix), () -> "expected \"" + prefix + "...\", got: " + e.getMessage());
        assertTrue(e.getMessage().contains(problem), () -> "expected \"" + problem + "\" in: " + e.getMessage());
        assertEquals(name, e.file());
        assertEquals(line, e.line());
        return e;
    }

    static long[] ids(long... ids) {
        return ids;
    }

    static String range(int fromInclusive, int toExclusive) {
        StringBuilder b = new StringBuilder();
        for (int i = fromInclusive; i < toExclusive; i++) {
            b.append(i == fromInclusive ? "" : ", ").append(i);
        }
        return b.toString();
    }
}
