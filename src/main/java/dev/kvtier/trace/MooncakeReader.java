package dev.kvtier.trace;

import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a Mooncake JSON-lines trace (kvcache-ai/Mooncake, FAST'25 release): one object per line,
 * {@code {"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]}}, all four
 * fields required, others ignored; blank lines skipped. Invariants checked, each a
 * {@link TraceFormatException} at the line: non-negative integers (timestamp may be fractional),
 * {@code hash_ids.length == ceil(input_length / 512)} (the last block partial), one object per
 * line, and timestamps never going backwards: the published file is sorted, so a step back
 * means a damaged or concatenated file, and is rejected rather than silently re-sorted.
 */
final class MooncakeReader {
    static final int BLOCK_TOKENS = TraceFormat.MOONCAKE.defaultBlockTokens();

    private MooncakeReader() {
    }

    /** Appends the file's requests, in file order, to {@code out}; returns how many. */
    static int read(Path file, int source, List<TraceRequest> out) throws IOException {
        try (JsonInput in = JsonInput.open(file)) {
            JsonInput.Scratch scratch = new JsonInput.Scratch();
            int count = 0;
            int previousEndLine = 0;
            double previousMs = 0;
            JsonToken t;
            while ((t = in.next()) != null) {
                int line = in.line();
                if (t != JsonToken.START_OBJECT) {
                    throw in.fail(line, "expected one JSON object per line, got " + in.describe());
                }
                if (line == previousEndLine) {
                    throw in.fail(line, "more than one JSON object on the line");
                }
                double ms = -1;
                int input = -1;
                int output = -1;
                long[] ids = null;
                while ((t = in.next()) == JsonToken.FIELD_NAME) {
                    String name = in.parser.currentName();
                    in.next();
                    switch (name) {
                        case "timestamp" -> ms = in.nonNegativeNumber(name);
                        case "input_length" -> input = in.nonNegativeInt(name);
                        case "output_length" -> output = in.nonNegativeInt(name);
                        case "hash_ids" -> ids = in.ids(name, scratch);
                        default -> in.skipValue();
                    }
                }
                previousEndLine = in.line();
                if (ms < 0) {
                    throw in.fail(line, "timestamp missing");
                }
                if (input < 0) {
                    throw in.fail(line, "input_length missing");
                }
                if (output < 0) {
                    throw in.fail(line, "output_length missing");
                }
                if (ids == null) {
                    throw in.fail(line, "hash_ids missing");
                }
                long expected = ((long) input + BLOCK_TOKENS - 1) / BLOCK_TOKENS;
                if (ids.length != expected) {
                    throw in.fail(line, "hash_ids has " + JsonInput.ids(ids.length) + ", but input_length " + input
                            + " needs ceil(" + input + "/" + BLOCK_TOKENS + ") = " + expected);
                }
                if (ms < previousMs) {
                    throw in.fail(line, "timestamp " + fmt(ms) + " is before the previous request's "
                            + fmt(previousMs) + " (a Mooncake trace is sorted by time)");
                }
                previousMs = ms;
                out.add(new TraceRequest(ms / 1000.0, input, output, ids, source));
                count++;
            }
            if (count == 0) {
                throw in.fail("empty trace: no requests");
            }
            return count;
        }
    }

    private static String fmt(double ms) {
        return ms == Math.rint(ms) && Math.abs(ms) < 1e15 ? Long.toString((long) ms) : Double.toString(ms);
    }
}
