package dev.kvtier.trace;

import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a kv-cache-tester trace (callanjfox/kv-cache-tester): one JSON document per session,
 * {@code {id, models, block_size, hash_id_scope: "local", requests: [...]}}; a request has
 * {@code t} (seconds), {@code type} ({@code n}, {@code s} or {@code subagent}), {@code in},
 * {@code out} and {@code hash_ids}; other fields are ignored, whatever their value.
 *
 * <p>Required (null is a wrong type for them): {@code requests}; of a request, {@code t},
 * {@code type}, {@code in} and {@code hash_ids}; of a subagent, {@code t}, {@code type} and
 * {@code requests}. Optional, null or missing taking a default that is counted per field
 * ({@link Trace#defaultedFields}):
 * <ul>
 * <li>{@code block_size}: 64;
 * <li>{@code hash_id_scope}: {@code local} (any other value is rejected: the replay
 *     namespaces ids per file);
 * <li>{@code out} of a request: 0;
 * <li>{@code duration_ms} of a subagent: its nested requests are timed from the subagent's
 *     {@code t} (the published files have it null for subagents launched asynchronously,
 *     {@code "status": "async_launched"}).
 * </ul>
 * Checked, each a {@link TraceFormatException} at the parser's line: types, non-negative
 * numbers, {@code hash_ids.length == floor(in / block_size)} (every request of the published
 * files satisfies it; a prompt shorter than one block has no ids), and {@code t} never going
 * backwards within one {@code requests} array.
 *
 * <p>Subagents: a {@code subagent} request is a container, not a request; its {@code t} is the
 * time the subagent <em>finished</em>, and the {@code t} of its nested {@code requests} count
 * from 0 at the subagent's start. The published data shows it: the nested lists start at
 * {@code t = 0.0}, the container's {@code t} has millisecond fractions where session requests
 * have whole seconds, and {@code t - duration_ms / 1000} is the same instant (78.257 s in
 * trace_0282, 1101.36 s in trace_0291) for subagents launched together, just after the
 * spawning request's {@code t + api_time}. So a nested request's time is
 * {@code parent.t - parent.duration_ms / 1000 + child.t} (without {@code duration_ms}:
 * {@code parent.t + child.t}); nested subagents apply this recursively. Nested requests share
 * the file's id space and source; they are emitted in document order, after the requests
 * before their container, and {@link Trace} sorts everything by time (stable).
 */
final class KvCacheTesterReader {
    private KvCacheTesterReader() {
    }

    /** The requests of one file, not yet sorted by time, and the file's block size. */
    record Result(List<TraceRequest> requests, int blockTokens, int blockSizeLine) {
    }

    /** A request before the block size (which may follow it in the document) is known. */
    private static final class Raw {
        final int line;
        double t;
        final int in;
        final int out;
        final long[] ids;

        Raw(int line, double t, int in, int out, long[] ids) {
            this.line = line;
            this.t = t;
            this.in = in;
            this.out = out;
            this.ids = ids;
        }
    }

    /** Reads {@code file}; each optional field that was null or missing is counted in {@code defaulted}. */
    static Result read(Path file, int source, Map<String, Long> defaulted) throws IOException {
        try (JsonInput in = JsonInput.open(file)) {
            JsonToken t = in.next();
            if (t == null) {
                throw in.fail("empty trace: no requests");
            }
            if (t != JsonToken.START_OBJECT) {
                throw in.fail("expected a JSON object, got " + in.describe());
            }
            int blockSize = 0;
            int blockSizeLine = 0;
            boolean scoped = false;
            List<Raw> raws = null;
            JsonInput.Scratch scratch = new JsonInput.Scratch();
            while ((t = in.next()) == JsonToken.FIELD_NAME) {
                String name = in.parser.currentName();
                in.next();
                switch (name) {
                    case "block_size" -> {
                        if (!in.isNull()) {
                            blockSizeLine = in.line();
                            blockSize = in.nonNegativeInt(name);
                            if (blockSize == 0) {
                                throw in.fail("block_size must be positive");
                            }
                        }
                    }
                    case "hash_id_scope" -> {
                        if (!in.isNull()) {
                            String scope = in.string(name);
                            if (!scope.equals("local")) {
                                throw in.fail("hash_id_scope \"" + scope + "\" is not supported (only \"local\")");
                            }
                            scoped = true;
                        }
                    }
                    case "requests" -> raws = requests(in, scratch, defaulted);
                    default -> in.skipValue();
                }
            }
            int endLine = in.line();
            if (in.next() != null) {
                throw in.fail("content after the end of the document");
            }
            if (raws == null) {
                throw in.fail(endLine, "requests missing");
            }
            if (raws.isEmpty()) {
                throw in.fail(endLine, "empty trace: no requests");
            }
            if (blockSize == 0) {
                JsonInput.defaulted(defaulted, "block_size");
                blockSize = TraceFormat.KV_CACHE_TESTER.defaultBlockTokens();
            }
            if (!scoped) {
                JsonInput.defaulted(defaulted, "hash_id_scope");
            }
            List<TraceRequest> out = new ArrayList<>(raws.size());
            for (Raw r : raws) {
                int expected = r.in / blockSize;
                if (r.ids.length != expected) {
                    throw in.fail(r.line, "hash_ids has " + JsonInput.ids(r.ids.length) + ", but in " + r.in
                            + " needs floor(" + r.in + "/" + blockSize + ") = " + expected);
                }
                out.add(new TraceRequest(r.t, r.in, r.out, r.ids, source));
            }
            return new Result(out, blockSize, blockSizeLine);
        }
    }

    /** The current value, a requests array, flattened; times relative to the array's frame. */
    private static List<Raw> requests(JsonInput in, JsonInput.Scratch scratch, Map<String, Long> defaulted)
            throws IOException {
        in.expectArray("requests");
        List<Raw> out = new ArrayList<>();
        double previousT = 0;
        JsonToken t;
        while ((t = in.next()) != JsonToken.END_ARRAY) {
            int line = in.line();
            if (t != JsonToken.START_OBJECT) {
                throw in.fail("a request must be an object, got " + in.describe());
            }
            double time = -1;
            String type = null;
            int input = -1;
            int output = -1;
            long[] ids = null;
            double durationMs = -1;
            List<Raw> nested = null;
            while ((t = in.next()) == JsonToken.FIELD_NAME) {
                String name = in.parser.currentName();
                in.next();
                switch (name) {
                    case "t" -> time = in.nonNegativeNumber(name);
                    case "type" -> type = in.string(name);
                    case "in" -> input = in.nonNegativeInt(name);
                    case "out" -> output = in.isNull() ? -1 : in.nonNegativeInt(name);
                    case "hash_ids" -> ids = in.ids(name, scratch);
                    case "duration_ms" -> durationMs = in.isNull() ? -1 : in.nonNegativeNumber(name);
                    case "requests" -> nested = requests(in, scratch, defaulted);
                    default -> in.skipValue();
                }
            }
            if (time < 0) {
                throw in.fail(line, "t missing");
            }
            if (type == null) {
                throw in.fail(line, "type missing");
            }
            if (time < previousT) {
                throw in.fail(line, "t " + time + " is before the previous request's " + previousT);
            }
            previousT = time;
            switch (type) {
                case "n", "s" -> {
                    if (nested != null) {
                        throw in.fail(line, "a request of type \"" + type + "\" has nested requests");
                    }
                    if (input < 0) {
                        throw in.fail(line, "in missing");
                    }
                    if (ids == null) {
                        throw in.fail(line, "hash_ids missing");
                    }
                    if (output < 0) {
                        JsonInput.defaulted(defaulted, "out");
                        output = 0;
                    }
                    out.add(new Raw(line, time, input, output, ids));
                }
                case "subagent" -> {
                    if (nested == null) {
                        throw in.fail(line, "subagent requests missing");
                    }
                    if (durationMs < 0) {
                        JsonInput.defaulted(defaulted, "duration_ms");
                    }
                    double start = durationMs < 0 ? time : time - durationMs / 1000.0;
                    if (start < -1e-9) {
                        throw in.fail(line, "subagent duration_ms " + durationMs + " is longer than its t " + time);
                    }
                    start = Math.max(0, start);
                    for (Raw r : nested) {
                        r.t += start;
                    }
                    out.addAll(nested);
                }
                default -> throw in.fail(line, "type \"" + type + "\" unknown (expected n, s or subagent)");
            }
        }
        return out;
    }
}
