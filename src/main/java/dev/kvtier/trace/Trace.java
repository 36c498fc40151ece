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
import java.util.Map;
import java.util.TreeMap;
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
 * one format and, for kv-cache-tester, one {@code block_size}. The i-th file read is source i: ids
 * are only comparable within one source. Requests of all files are merged by time, stable
 * (equal times keep file order, then order within the file). Every file must hold at least
 * one request. Read with {@code skipBadFiles}, a directory's file that fails to read (malformed,
 * or of another format or block size than the first file read) is left out, its source index
 * going to the next file read, and is listed in {@link #skippedFiles}; the directory fails only
 * if no file is left. Optional fields that were null or missing took their documented defaults
 * ({@code MooncakeReader}, {@code KvCacheTesterReader}) and are counted in
 * {@link #defaultedFields}. Immutable.
 */
public final class Trace {
    private final String name;
    private final TraceFormat format;
    private final int blockTokens;
    private final List<TraceRequest> requests;
    private final List<String> sourceNames;
    private final Map<String, Long> defaultedFields;
    private final List<TraceFormatException> skippedFiles;
    private final long inputTokens;
    private final long blockReferences;

    private Trace(String name, TraceFormat format, int blockTokens, List<TraceRequest> requests,
            List<String> sourceNames, Map<String, Long> defaultedFields, List<TraceFormatException> skippedFiles) {
        this.name = name;
        this.format = format;
        this.blockTokens = blockTokens;
        this.requests = requests;
        this.sourceNames = sourceNames;
        this.defaultedFields = defaultedFields;
        this.skippedFiles = skippedFiles;
        long tokens = 0;
        long refs = 0;
        for (TraceRequest r : requests) {
            tokens += r.inputTokens();
            refs += r.hashIds().length;
        }
        this.inputTokens = tokens;
        this.blockReferences = refs;
    }

    /** As {@link #read(Path, TraceFormat, boolean)}, failing on the first bad file. */
    public static Trace read(Path path, TraceFormat formatOrNull) throws IOException {
        return read(path, formatOrNull, false);
    }

    /**
     * Reads a file, or a directory of trace files of one format (all of them, sorted by name,
     * each a distinct source; requests merged in time order, stable). {@code formatOrNull} null
     * detects each file's format from its content: a first JSON object with a
     * {@code "timestamp"} or {@code "hash_ids"} field is Mooncake, one with {@code "requests"}
     * kv-cache-tester (whichever field comes first decides). With a format given, a file that
     * clearly is the other format is rejected as such. {@code skipBadFiles}: a directory's files
     * that fail are skipped and listed in {@link #skippedFiles} (a single file still fails).
     *
     * @throws NoSuchFileException if the path does not exist
     * @throws TraceFormatException if a file is not a valid trace of its format (with
     *     {@code skipBadFiles}: if no file of the directory is)
     */
    public static Trace read(Path path, TraceFormat formatOrNull, boolean skipBadFiles) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such trace file or directory");
        }
        List<Path> files;
        boolean directory = Files.isDirectory(path);
        if (directory) {
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
        int blockTokens = 0;
        String first = null; // the first file read, whose format and block size the others must have
        List<TraceRequest> all = new ArrayList<>();
        List<String> names = new ArrayList<>(files.size());
        Map<String, Long> defaulted = new TreeMap<>();
        List<TraceFormatException> skipped = new ArrayList<>();
        for (Path file : files) {
            String fileName = fileName(file);
            Map<String, Long> fileDefaulted = new TreeMap<>();
            try {
                TraceFormat fileFormat = format(file, formatOrNull, format, first);
                List<TraceRequest> requests;
                int fileBlockTokens;
                if (fileFormat == TraceFormat.MOONCAKE) {
                    requests = MooncakeReader.read(file, names.size(), fileDefaulted);
                    fileBlockTokens = MooncakeReader.BLOCK_TOKENS;
                } else {
                    KvCacheTesterReader.Result r = KvCacheTesterReader.read(file, names.size(), fileDefaulted);
                    if (first != null && r.blockTokens() != blockTokens) {
                        throw new TraceFormatException(fileName, r.blockSizeLine(), "block_size " + r.blockTokens()
                                + " differs from " + blockTokens + " in " + first
                                + "; the files of a directory must agree");
                    }
                    requests = r.requests();
                    fileBlockTokens = r.blockTokens();
                }
                if (first == null) {
                    format = fileFormat;
                    blockTokens = fileBlockTokens;
                    first = fileName;
                }
                all.addAll(requests);
                names.add(fileName);
                fileDefaulted.forEach((field, n) -> defaulted.merge(field, n, Long::sum));
            } catch (TraceFormatException e) {
                if (!skipBadFiles || !directory) {
                    throw e;
                }
                skipped.add(e);
            }
        }
        if (names.isEmpty()) {
            throw new TraceFormatException(fileName(path), 0, "all " + files.size()
                    + " trace files are bad, skipped; the first: " + skipped.get(0).getMessage(), skipped.get(0));
        }
        all.sort(Comparator.comparingDouble(TraceRequest::timeSeconds)); // stable (TimSort)
        return new Trace(fileName(path), format, blockTokens, Collections.unmodifiableList(all),
                List.copyOf(names), Collections.unmodifiableMap(defaulted), List.copyOf(skipped));
    }

    /**
     * The format to read {@code file} as: the one given, or the one detected, which must be
     * {@code format}, that of the file {@code first} read before it (if any).
     */
    private static TraceFormat format(Path file, TraceFormat formatOrNull, TraceFormat format, String first)
            throws IOException {
        String fileName = fileName(file);
        if (formatOrNull == null) {
            TraceFormat detected = detect(file);
            if (first != null && detected != format) {
                throw new TraceFormatException(fileName, 0, "a " + detected + " trace, but " + first
                        + " is " + format + "; a directory must hold one format");
            }
            return detected;
        }
        TraceFormat detected = detectOrNull(file);
        if (detected != null && detected != formatOrNull) {
            throw new TraceFormatException(fileName, 1, "looks like a " + detected + " trace, not " + formatOrNull);
        }
        return formatOrNull;
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
        return new Trace(name, null, blockTokens, List.copyOf(requests), List.copyOf(sourceNames), Map.of(), List.of());
    }

    /** The first {@code n} requests (all of them when there are fewer), with this trace's name, format and sources. */
    public Trace head(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("a trace's head needs n >= 0 requests, was " + n);
        }
        return n >= requests.size() ? this
                : new Trace(name, format, blockTokens, requests.subList(0, n), sourceNames, defaultedFields, skippedFiles);
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

    /**
     * Optional fields that were null or missing and took their documented default, by field
     * name (sorted), each with the number of records (or, for a document's own fields, files) it
     * was defaulted in; empty when none was. Of the files read, including requests a
     * {@link #head} leaves out.
     */
    public Map<String, Long> defaultedFields() {
        return defaultedFields;
    }

    /** The files a read with {@code skipBadFiles} left out, each with why (file, line, problem); in name order. */
    public List<TraceFormatException> skippedFiles() {
        return skippedFiles;
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
