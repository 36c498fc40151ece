package dev.kvtier.trace;

import java.io.IOException;

/**
 * A trace file that cannot be read as its format: the message names the file, the line
 * (1-based; for a single-document file the JSON parser's line) and what was wrong, e.g.
 * {@code conversation_trace.jsonl line 17: hash_ids missing}. Problems of a file as a whole
 * (no requests in a directory, formats that differ) carry no line.
 */
public final class TraceFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;
    private final String problem;

    /** @param line 1-based, or 0 when the problem is not on one line */
    public TraceFormatException(String file, int line, String problem) {
        this(file, line, problem, null);
    }

    public TraceFormatException(String file, int line, String problem, Throwable cause) {
        super(file + (line > 0 ? " line " + line : "") + ": " + problem, cause);
        this.file = file;
        this.line = Math.max(0, line);
        this.problem = problem;
    }

    /** The file's name (not its whole path). */
    public String file() {
        return file;
    }

    /** 1-based line, or 0 if the problem has none. */
    public int line() {
        return line;
    }

    /** What was wrong, without the file and line. */
    public String problem() {
        return problem;
    }
}
