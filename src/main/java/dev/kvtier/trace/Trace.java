package dev.kvtier.trace;

import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A workload trace read into memory: requests whose prompts are lists of block hash ids, for
 * replaying through a prefix cache without a model. Formats: {@link TraceFormat#MOONCAKE}
 * (kvcache-ai/Mooncake JSON lines) and {@link TraceFormat#KV_CACHE_TESTER}
 * (callanjfox/kv-cache-tester session documents); see {@code MooncakeReader} and
 * {@code KvCacheTesterReader} for the fields and the invariants checked.
 *
 * <p>A directory is read as all of its {@code *.json} and {@code *.jsonl} files (not hidden,
 * sorted by name; other files such as {@code LICENSE} and subdirectories are ignored), all of
 * one format and, for kv-cache-tester, one {@code block_size}. The i-th file is source i: ids
 * are only comparable within one source. Requests of all files are merged by time, stable
 * (equal times keep file order, then order within the file). Every file must hold at least
 * one request. Immutable.
 */
public final class Trace {
    private final String name;
    private final TraceFormat format;
    private final int blockTokens;
    private final List<TraceRequest> requests;
    private final List<String> sourceNames;
    private final long inputTokens;
    private final long blockReferences;

    private Trace(String name, TraceFormat format, int blockTokens, List<TraceRequest> requests,
            List<String> sourceNames) {
        this.name = name;
        this.format = format;
        this.blockTokens = blockTokens;
        this.requests = requests;
        this.sourceNames = sourceNames;
        long tokens = 0;
        long refs = 0;
        for (TraceRequest r : requests) {
            tokens += r.inputTokens();
            refs += r.hashIds().length;
        }
        this.inputTokens = tokens;
        this.blockReferences = refs;
    }

    /**
     * Reads a file, or a directory of trace files of one format (all of them, sorted by name,
     * each a distinct source; requests merged in time order, stable). {@code formatOrNull} null
     * detects each file's format from its content: a first JSON object with a
     * {@code "timestamp"} or {@code "hash_ids"} field is Mooncake, one with {@code "requests"}
     * kv-cache-tester (whichever field comes first decides). With a format given, a file that
     * clearly is the other format is rejected as such.
     *
     * @throws NoSuchFileException if the path does not exist
     * @throws TraceFormatException if a file is not a valid trace of its format
     */
    public static Trace read(Path path, TraceFormat formatOrNull) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such trace file or directory");
        }
        List<Path> files;
        if (Files.isDirectory(path)) {
            try (Stream<Path> list = Files.list(path)) {
                files = list.filter(Trace::isTraceFile)
                        .sorted(Comparator.comparing(Trace::fileName))
                        .toList();
            }
            if (files.isEmpty()) {
                throw new TraceFormatException(fileName(path), 0, "no trace files (*.json, *.jsonl) in the directory");
            }
        } else if (Files.isRegularFile(path)) {
            files = List.of(path);
        } else {
            throw new TraceFormatException(fileName(path), 0, "not a regular file or directory");
        }

        TraceFormat format = formatOrNull;
        String formatFrom = null;
        int blockTokens = 0;
        String blockTokensFrom = null;
        List<TraceRequest> all = new ArrayList<>();
        List<String> names = new ArrayList<>(files.size());
        for (int source = 0; source < files.size(); source++) {
            Path file = files.get(source);
            String fileName = fileName(file);
            if (formatOrNull == null) {
                TraceFormat detected = detect(file);
                if (format == null) {
                    format = detected;
                    formatFrom = fileName;
                } else if (detected != format) {
                    throw new TraceFormatException(fileName, 0, "a " + detected + " trace, but " + formatFrom
                            + " is " + format + "; a directory must hold one format");
                }
            } else {
                TraceFormat detected = detectOrNull(file);
                if (detected != null && detected != formatOrNull) {
                    throw new TraceFormatException(fileName, 1, "looks like a " + detected + " trace, not "
                            + formatOrNull);
                }
            }
            if (format == TraceFormat.MOONCAKE) {
                MooncakeReader.read(file, source, all);
                blockTokens = MooncakeReader.BLOCK_TOKENS;
            } else {
                KvCacheTesterReader.Result r = KvCacheTesterReader.read(file, source);
                if (blockTokensFrom == null) {
                    blockTokens = r.blockTokens();
                    blockTokensFrom = fileName;
                } else if (r.blockTokens() != blockTokens) {
                    throw new TraceFormatException(fileName, r.blockSizeLine(), "block_size " + r.blockTokens()
                            + " differs from " + blockTokens + " in " + blockTokensFrom
                            + "; the files of a directory must agree");
                }
                all.addAll(r.requests());
            }
            names.add(fileName);
        }
        all.sort(Comparator.comparingDouble(TraceRequest::timeSeconds)); // stable (TimSort)
        return new Trace(fileName(path), format, blockTokens, Collections.unmodifiableList(all),
                List.copyOf(names));
    }

    /**
     * The format of a file from its first JSON object.
     *
     * @throws TraceFormatException if it is neither format (or empty, or not JSON)
     */
    public static TraceFormat detect(Path file) throws IOException {
        try (JsonInput in = JsonInput.open(file)) {
            JsonToken t = in.next();
            if (t == null) {
                throw in.fail("empty trace: no requests");
            }
            if (t != JsonToken.START_OBJECT) {
                throw in.fail("not a trace: expected a JSON object, got " + in.describe());
            }
            int line = in.line();
            while ((t = in.next()) == JsonToken.FIELD_NAME) {
                switch (in.parser.currentName()) {
                    case "requests":
                        return TraceFormat.KV_CACHE_TESTER;
                    case "timestamp":
                    case "hash_ids":
                        return TraceFormat.MOONCAKE;
                    default:
                        in.next();
                        in.skipValue();
                }
            }
            throw in.fail(line, "cannot detect the trace format: the first object has neither \"requests\" ("
                    + TraceFormat.KV_CACHE_TESTER + ") nor \"timestamp\" or \"hash_ids\" (" + TraceFormat.MOONCAKE + ")");
        }
    }

    private static TraceFormat detectOrNull(Path file) throws IOException {
        try {
            return detect(file);
        } catch (TraceFormatException e) {
            return null; // the reader reports the problem precisely
        }
    }

    private static boolean isTraceFile(Path p) {
        String n = fileName(p);
        String lower = n.toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && (lower.endsWith(".json") || lower.endsWith(".jsonl")) && Files.isRegularFile(p);
    }

    static String fileName(Path p) {
        Path n = p.getFileName();
        if (n == null) {
            n = p.toAbsolutePath().normalize().getFileName();
        }
        return n == null ? p.toString() : n.toString();
    }

    /**
     * A trace built in memory (a generated workload): {@code requests} in replay order, each
     * naming a source in {@code [0, sourceNames.size())}; {@link #format()} is null.
     *
     * @throws IllegalArgumentException if a request is out of time order or names no source
     */
    public static Trace of(String name, int blockTokens, List<TraceRequest> requests, List<String> sourceNames) {
        if (blockTokens < 1) {
            throw new IllegalArgumentException("blockTokens must be >= 1: " + blockTokens);
        }
        double last = 0;
        for (int i = 0; i < requests.size(); i++) {
            TraceRequest r = requests.get(i);
            if (r.timeSeconds() < last || r.source() >= sourceNames.size()) {
                throw new IllegalArgumentException("request " + i + " is out of time order or names source "
                        + r.source() + " of " + sourceNames.size());
            }
            last = r.timeSeconds();
        }
        return new Trace(name, null, blockTokens, List.copyOf(requests), List.copyOf(sourceNames));
    }

    /** The first {@code n} requests (all of them when there are fewer), with this trace's name, format and sources. */
    public Trace head(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("a trace's head needs n >= 0 requests, was " + n);
        }
        return n >= requests.size() ? this
                : new Trace(name, format, blockTokens, requests.subList(0, n), sourceNames);
    }

    /** File or directory name. */
    public String name() {
        return name;
    }

    /** The format read, or null for a trace built with {@link #of}. */
    public TraceFormat format() {
        return format;
    }

    /** Tokens per block: 512 for Mooncake; the files' {@code block_size} for kv-cache-tester. */
    public int blockTokens() {
        return blockTokens;
    }

    /** In replay order (by time, stable), unmodifiable. */
    public List<TraceRequest> requests() {
        return requests;
    }

    /** Number of files read; {@link TraceRequest#source()} is in {@code [0, sources())}. */
    public int sources() {
        return sourceNames.size();
    }

    /** File name of each source, by source index. */
    public List<String> sourceNames() {
        return sourceNames;
    }

    /** Sum of the requests' input tokens. */
    public long inputTokens() {
        return inputTokens;
    }

    /** Sum of the requests' hash id counts (block references). */
    public long blockReferences() {
        return blockReferences;
    }

    /** Time of the last request, in seconds. */
    public double durationSeconds() {
        return requests.isEmpty() ? 0 : requests.get(requests.size() - 1).timeSeconds();
    }

    @Override
    public String toString() {
        return "Trace[" + name + ", " + format + ", " + requests.size() + " requests, " + sourceNames.size()
                + " sources, " + blockTokens + " tokens per block]";
    }
}
