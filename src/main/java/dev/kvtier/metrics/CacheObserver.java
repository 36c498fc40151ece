package dev.kvtier.metrics;

import java.util.Locale;

/**
 * What the engine tells about its operations as each one ends, for exporters that need more
 * than the cumulative counters of {@link CacheMetrics}: per-call timers (Micrometer) and events
 * (JFR). Tiers are numbered as in {@link CacheMetrics} (0 DRAM, 1 SSD, 2 REMOTE); durations are
 * nanoseconds.
 *
 * <p>Contract for implementations: called on the engine's threads (callers', I/O threads, the
 * demoter), sometimes under its locks, so a call returns quickly, never calls the cache, never
 * throws, and allocates nothing unless it records something. Every method does nothing by
 * default.
 */
public interface CacheObserver {
    /** How an operation ended. */
    enum Outcome {
        /** Done in full. */
        OK,
        /** A load delivered fewer blocks than matched: some left the cache between match and load. */
        PARTIAL,
        /** The caller cancelled the load. */
        CANCELLED,
        /** The load's deadline passed first. */
        DEADLINE,
        /** A read failed its header or payload check. */
        CORRUPT,
        /** A read found another block in the slot. */
        MISMATCH,
        /** A read or write failed with an I/O error or timed out. */
        IO_ERROR,
        /** A write was not attempted: queue full, or no slot that could be freed. */
        DECLINED,
        /** The block left the cache while it was written or read: the copy was not kept. */
        DROPPED;

        private final String label = name().toLowerCase(Locale.ROOT);

        /** The lower-case name, as exporters show it. */
        public String label() {
            return label;
        }
    }

    /** Lower-case tier names by tier number. */
    static String tierName(int tier) {
        switch (tier) {
            case 0:
                return "dram";
            case 1:
                return "ssd";
            default:
                return "remote";
        }
    }

    /** A match of {@code blocks} keys found {@code hits}. */
    default void match(int blocks, int hits, long nanos) {
    }

    /**
     * A load ended (its future completed or was cancelled) with {@code delivered} of {@code blocks}
     * matched blocks, {@code bytes} in all; {@code tier} is the lowest tier it read from.
     */
    default void load(int tier, int blocks, int delivered, long bytes, long nanos, Outcome outcome) {
    }

    /** A store call kept {@code stored} of {@code blocks} new blocks in DRAM. */
    default void store(int blocks, int stored, long bytes, long nanos) {
    }

    /** One block's write down to {@code tier} ended; {@code bytes} before compression. */
    default void demotion(int tier, long bytes, long nanos, Outcome outcome) {
    }

    /** {@code blocks} read from {@code tier} were copied into DRAM, or not ({@code outcome}). */
    default void promotion(int tier, int blocks, long bytes, long nanos, Outcome outcome) {
    }

    /** Opening {@code tier}'s device rebuilt the index: {@code blocks} kept, {@code discarded} slots. */
    default void recovery(int tier, long blocks, long discarded, long nanos) {
    }

    /** {@code operation} on {@code device} of {@code tier} failed; {@code error} says how. */
    default void deviceError(int tier, String device, String operation, Outcome outcome, String error) {
    }
}
