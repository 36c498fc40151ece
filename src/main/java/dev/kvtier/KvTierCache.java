package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A tiered store for the KV blocks of prompt prefixes. An inference server hashes a prompt into
 * chained keys ({@link Namespace#blockKeys(int[])}), asks how many leading blocks are kept
 * ({@link #match}), loads those into its own buffers instead of recomputing them ({@link #load}),
 * and hands the blocks it computed back ({@link #store}).
 *
 * <p>Thread-safe. Every block has exactly {@link #blockBytes()} bytes. A buffer's block is the
 * {@code blockBytes} bytes from its position; positions and limits are never changed. Every
 * method throws {@link IllegalArgumentException} (or {@link NullPointerException} for nulls)
 * on bad input, and {@link CacheClosedException} (an {@link IllegalStateException}) once
 * closed (except the configuration getters, {@link #stats()} and {@link #close()}), and then
 * leaves the cache as it was. An empty
 * chain (a prompt shorter than one block) is not bad input: it matches, loads and stores zero
 * blocks. {@link #close()} frees all off-heap memory.
 */
public interface KvTierCache extends AutoCloseable {

    /** A builder for a cache; see {@link KvTierCacheBuilder}. */
    static KvTierCacheBuilder builder() {
        return new KvTierCacheBuilder();
    }

    /** Tokens per block; every key passed in must come from a namespace with this block size. */
    int blockTokens();

    /** Bytes per block. */
    int blockBytes();

    /**
     * How many leading blocks of the chain {@code keys} are kept, and where. No copy. Without a
     * remote tier, metadata only (no I/O); with one, the keys after the local prefix are looked
     * up on the shared device by reading their sets' slot headers (a few small reads, in
     * parallel, bounded by the remote timeout), so blocks other servers wrote are found. A block
     * is reported only if every block before it is, so a reported block's parent is always
     * reported too.
     */
    PrefixMatch match(BlockKey[] keys);

    /** As {@link #match(BlockKey[])}, filling {@code into} instead of allocating a new answer. */
    PrefixMatch match(BlockKey[] keys, PrefixMatch into);

    /**
     * Copies the matched blocks into {@code dst[0..match.hitBlocks())}, asynchronously: pins
     * them and returns at once; blocks on devices are read in parallel, DRAM blocks (and blocks
     * on a memory-mapped SSD) are copied before this returns. The future completes with the
     * number of leading blocks delivered, which is smaller than the match when blocks left the
     * cache in between or failed their reads or checks on the way: only that count is valid.
     * The future completes once every read has finished, so nothing more is written into
     * {@code dst} after it. Cancelling the future ends the load there, but reads already issued
     * may still write into {@code dst} until they finish (within the device's timeout); its pins
     * go then. The keys of {@code match} may be reused once this returns. A load served from DRAM
     * alone is complete when this returns.
     */
    CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst);

    /**
     * As {@link #load(PrefixMatch, ByteBuffer[])}, telling {@code listener} (may be null) of each
     * growth of the leading run delivered, in order and outside the cache's locks (see
     * {@link LoadListener}), and completing by {@code deadline} (null: none) with the leading
     * blocks delivered by then. With a deadline, device reads land in buffers of the
     * cache and are copied into {@code dst} only while the load is open: nothing is written into
     * {@code dst} once the future is done, after a deadline or a cancel.
     */
    CompletableFuture<Integer> load(PrefixMatch match, ByteBuffer[] dst, LoadListener listener, Duration deadline);

    /**
     * As {@link #load(PrefixMatch, ByteBuffer[])}, into native addresses (for example pinned host
     * memory registered with the GPU), each of at least {@link #blockBytes()} writable bytes.
     */
    CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses);

    /** As {@link #load(PrefixMatch, ByteBuffer[], LoadListener, Duration)}, into native addresses. */
    CompletableFuture<Integer> load(PrefixMatch match, long[] dstAddresses, LoadListener listener, Duration deadline);

    /** Stores every block of the chain {@code keys}, {@code src[i]} holding block {@code i}. */
    int store(BlockKey[] keys, ByteBuffer[] src);

    /**
     * Stores blocks {@code keys[from, from+count)}, {@code src[i]} holding block {@code i}: the
     * buffers are indexed like the keys, as {@link #load} fills {@code dst[i]} with block
     * {@code i}, so one array of buffers per prompt serves both (elements outside
     * {@code [from, from+count)} are not read and may be null). {@code src} must have at least
     * {@code from+count} elements. Each key becomes visible only when its bytes are whole. Blocks
     * already kept are not rewritten; a block whose parent is not kept is declined (it could never
     * be matched), and so are the blocks after it, as are blocks admission refuses or finds no
     * DRAM page for. Returns the number of blocks newly stored; the overload with a
     * {@link StoreResult} says why the others were not.
     */
    int store(BlockKey[] keys, ByteBuffer[] src, int from, int count);

    /**
     * As {@link #store(BlockKey[], ByteBuffer[], int, int)}, and fills {@code result} with what
     * happened to each block: stored, already kept, parent missing, refused by admission, or no
     * space ({@link StoreResult}). Allocates nothing when {@code result} is reused.
     */
    int store(BlockKey[] keys, ByteBuffer[] src, int from, int count, StoreResult result);

    /**
     * As {@link #load(PrefixMatch, ByteBuffer[], LoadListener, Duration)}, into the caller's
     * segments: block {@code i} of the match goes to {@code dst}'s segments of block {@code i}
     * ({@link BlockSegments}), each {@code segmentBytes} (which must divide {@link #blockBytes()})
     * copied straight from the cache's memory, so an engine that keeps KV per layer needs no
     * staging buffer. Device reads land in memory of the cache and are copied into the segments
     * only while the load is open: nothing is written into them once the future is done.
     */
    CompletableFuture<Integer> load(PrefixMatch match, int segmentBytes, BlockSegments dst, LoadListener listener,
            Duration deadline);

    /** As {@link #store(BlockKey[], ByteBuffer[])}, from native addresses. */
    int store(BlockKey[] keys, long[] srcAddresses);

    /**
     * As {@link #store(BlockKey[], ByteBuffer[], int, int)}, from native addresses, each of at
     * least {@link #blockBytes()} readable bytes; {@code srcAddresses[i]} holds block {@code i}.
     */
    int store(BlockKey[] keys, long[] srcAddresses, int from, int count);

    /** As {@link #store(BlockKey[], long[], int, int)}, filling {@code result} (see {@link StoreResult}). */
    int store(BlockKey[] keys, long[] srcAddresses, int from, int count, StoreResult result);

    /**
     * As {@link #store(BlockKey[], ByteBuffer[], int, int)}, gathering block {@code i} from
     * {@code src}'s segments of block {@code i} ({@link BlockSegments}), each {@code segmentBytes}
     * (which must divide {@link #blockBytes()}), straight into the cache's memory.
     */
    int store(BlockKey[] keys, int segmentBytes, BlockSegments src, int from, int count);

    /** As {@link #store(BlockKey[], int, BlockSegments, int, int)}, filling {@code result} (see {@link StoreResult}). */
    int store(BlockKey[] keys, int segmentBytes, BlockSegments src, int from, int count, StoreResult result);

    /**
     * A pinned zero-copy view of a DRAM block, or null when {@code key} is not in DRAM. The block
     * stays put until the handle is closed.
     */
    BlockHandle acquire(BlockKey key);

    /** Drops every block of {@code namespace}; pinned ones go when unpinned. Returns how many. */
    int invalidate(Namespace namespace);

    /**
     * Waits until the background work due now is done: promotions into DRAM after loads,
     * demotions down to the DRAM watermark and queued slot wipes. Inference threads never need this; tests, benchmarks and orderly
     * handovers do.
     */
    void awaitIdle();

    /**
     * Writes the blocks kept only in DRAM to the tier below it (the SSD, else the remote tier),
     * whole prefixes first, so that they survive a restart, even a {@code kill -9} once this
     * returns; waits at most about {@code timeout}. Admission may refuse blocks (with the
     * default policy, only past a {@code writeBudget}); the flush also ends early when the tier
     * has no slot left that does not hold another DRAM block, or a write fails. Returns the
     * number of blocks written; 0 without a tier below DRAM. {@link #close()} runs one within
     * {@link KvTierCacheBuilder#flushOnClose}. Counted in {@link CacheStats#flushedBlocks}.
     */
    int flush(Duration timeout);

    /** A snapshot of counters, gauges and latency histograms. */
    CacheStats stats();

    /**
     * Frees all off-heap memory. Loads and stores in progress finish first; then the blocks kept
     * only in DRAM are flushed to the tier below ({@link #flush}, within
     * {@link KvTierCacheBuilder#flushOnClose}), so a clean restart is a warm one. Idempotent.
     */
    @Override
    void close();
}
