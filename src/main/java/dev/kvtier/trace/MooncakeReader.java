package dev.kvtier.trace;

import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a Mooncake JSON-lines trace (kvcache-ai/Mooncake, FAST'25 release): one object per line,
 * {@code {"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]}}; other
 * fields are ignored, whatever their value; blank lines are skipped.
 *
 * <p>Required: {@code timestamp}, {@code input_length} and {@code hash_ids}, which the replay
 * needs; null is a wrong type for them. Optional, null or missing taking a default that is
 * counted per field ({@link Trace#defaultedFields}): {@code output_length}, default 0.
 *
 * <p>Invariants checked, each a {@link TraceFormatException} at the line: non-negative integers
 * (timestamp may be fractional), {@code hash_ids.length == ceil(input_length / 512)} (the last
 * block partial; an empty prompt has no ids), one object per line, and timestamps never going
 * backwards: the published file is sorted, so a step back means a damaged or concatenated file,
 * and is rejected rather than silently re-sorted.
 */
final class MooncakeReader {
    static final int BLOCK_TOKENS = TraceFormat.MOONCAKE.defaultBlockTokens();

    private MooncakeReader() {
    }

    /**
     * The file's requests, in file order; each optional field that was null or missing is
     * counted in {@code defaulted}.
     */
    static List<TraceRequest> read(Path file, int source, Map<String, Long> defaulted) throws IOException {
        try (JsonInput in = JsonInput.open(file)) {
            JsonInput.Scratch scratch = new JsonInput.Scratch();
            List<TraceRequest> out = new ArrayList<>();
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
                        case "output_length" -> output = in.isNull() ? -1 : in.nonNegativeInt(name);
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
                if (ids == null) {
                    throw in.fail(line, "hash_ids missing");
                }
                if (output < 0) {
                    JsonInput.defaulted(defaulted, "output_length");
                    output = 0;
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
            }
            if (out.isEmpty()) {
                throw in.fail("empty trace: no requests");
            }
            return out;
        }
    }

    private static String fmt(double ms) {
        return ms == Math.rint(ms) && Math.abs(ms) < 1e15 ? Long.toString((long) ms) : Double.toString(ms);
    }
}
