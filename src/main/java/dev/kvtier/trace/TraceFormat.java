package dev.kvtier.trace;

import java.util.Locale;

/** The trace file formats {@link Trace#read} understands, with the token block size each implies. */
public enum TraceFormat {
    /** Mooncake JSON lines: one request object per line, 512-token blocks, the last one partial. */
    MOONCAKE("mooncake", 512),
    /** kv-cache-tester: one JSON document per session file, {@code block_size}-token blocks (64). */
    KV_CACHE_TESTER("kv-cache-tester", 64);

    private final String id;
    private final int defaultBlockTokens;

    TraceFormat(String id, int defaultBlockTokens) {
        this.id = id;
        this.defaultBlockTokens = defaultBlockTokens;
    }

    /**
     * {@code "mooncake"} or {@code "kv-cache-tester"}, case-insensitive (surrounding blanks and
     * the enum names, e.g. {@code KV_CACHE_TESTER}, are accepted too).
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static TraceFormat parse(String name) {
        if (name != null) {
            String n = name.strip().toLowerCase(Locale.ROOT).replace('_', '-');
            for (TraceFormat f : values()) {
                if (f.id.equals(n)) {
                    return f;
                }
            }
        }
        throw new IllegalArgumentException("unknown trace format " + (name == null ? "null" : "\"" + name + "\"")
                + "; expected one of: mooncake, kv-cache-tester");
    }

    /** Tokens per block: 512 for Mooncake, 64 for kv-cache-tester (whose files may say otherwise). */
    public int defaultBlockTokens() {
        return defaultBlockTokens;
    }

    /** The name {@link #parse} accepts: {@code mooncake} or {@code kv-cache-tester}. */
    public String id() {
        return id;
    }

    @Override
    public String toString() {
        return id;
    }
}
