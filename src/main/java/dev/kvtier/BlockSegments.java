package dev.kvtier;

/**
 * Where the blocks of a segmented {@link KvTierCache#load(PrefixMatch, int, BlockSegments,
 * LoadListener, Duration) load} or {@link KvTierCache#store(dev.kvtier.key.BlockKey[], int,
 * BlockSegments, int, int) store} live in the caller's memory, for an engine that keeps KV in
 * pieces (one tensor or page per layer, K apart from V) rather than one buffer per block: byte
 * {@code j} of block {@code i} is byte {@code j % segmentBytes} of the segment at
 * {@code address(i, j / segmentBytes)}. kvtier copies each segment straight between its own
 * memory and that address, so the engine needs no staging copy.
 *
 * <p>{@code block} is the block's index in the chain (as in the keys), {@code segment} counts
 * from 0 to {@code blockBytes / segmentBytes - 1}. Every address must have {@code segmentBytes}
 * bytes, writable for a load, that stay valid until the load's future completes (or the store
 * returns). The cache may call {@code address} more than once for the same segment, from the
 * calling thread, a kvtier I/O thread or the deadline timer, for the blocks of the call only; it
 * must return the same address each time, quickly, without calling the cache.
 */
@FunctionalInterface
public interface BlockSegments {
    /** The native address of segment {@code segment} of block {@code block}; never 0. */
    long address(int block, int segment);
}
