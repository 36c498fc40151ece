package dev.kvtier.device;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A fixed-size byte-addressed store a persistent tier writes its slots to: a memory-mapped
 * file, a file or raw block device opened with O_DIRECT, or (later) a network block device.
 *
 * <p>Reads and writes move {@code buffer.remaining()} bytes at a device offset and leave the
 * buffer's position and limit unchanged. Buffers are direct. Offsets, lengths and buffer addresses must be
 * multiples of {@link #alignment()}. Implementations are thread-safe for accesses to disjoint
 * ranges; callers never access one range from two threads at once.
 *
 * <p>A device may <em>fail</em> ({@link #failed()}): a fault that leaves it unusable for good,
 * such as its file truncated under the cache, is reported as an {@link IOException} by the
 * access that finds it (never as a JVM error), and every later access throws at once.
 */
public interface BlockDevice extends AutoCloseable {
    /** Usable bytes. */
    long size();

    /** Required alignment of offsets, lengths and buffer addresses (1 when there is none). */
    int alignment();

    /** Fills {@code dst} from the bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * Reads like {@link #read}, for ranges that may never have been written (slot headers
     * scanned at open): an implementation must not allocate storage for holes.
     */
    default void readSparse(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst);
    }

    /**
     * Reads {@code n} ranges, {@code dsts[i]} from {@code offsets[i]}, as one batch: a device
     * with a round trip per request (NBD) sends them all before waiting for any.
     */
    default void readBatch(long[] offsets, ByteBuffer[] dsts, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            read(offsets[i], dsts[i]);
        }
    }

    /** Whether a read is a memory copy (a mapped file): fast enough for the caller's thread, no I/O thread needed. */
    default boolean readsAreMemoryCopies() {
        return false;
    }

    /** Whether {@link #readBatch} overlaps its reads, so that a speculative read costs no round trip. */
    default boolean batchesReads() {
        return false;
    }

    /** Whether {@link #startReadBatch} reads without blocking the calling thread. */
    default boolean readsAsync() {
        return false;
    }

    /** Told once when the reads of a {@link #startReadBatch} are over. */
    @FunctionalInterface
    interface BatchCompletion {
        /** All reads arrived ({@code failure} null), or what failed; no byte lands in their buffers after this. */
        void completed(IOException failure);
    }

    /**
     * Sends the reads of {@link #readBatch} and returns without waiting, on devices that
     * {@linkplain #readsAsync read asynchronously}: {@code then} is told once, on the thread that
     * completes the I/O (or on this one, when the reads fail at once), and only when nothing more
     * is written into {@code dsts}. The reads must be over by {@code deadlineNanos}
     * ({@link System#nanoTime}) or fail. Never blocks, never reconnects.
     */
    default void startReadBatch(long[] offsets, ByteBuffer[] dsts, int n, long deadlineNanos, BatchCompletion then) {
        throw new UnsupportedOperationException(describe() + " does not read asynchronously");
    }

    /** Writes {@code src} at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /**
     * Writes {@code head} and then {@code tail} as one contiguous range from {@code offset}. No
     * order holds between their bytes: while it runs, a reader of the range may see any mix of
     * old and new bytes. A device with a round trip per request (NBD) sends one request.
     */
    default void write(long offset, ByteBuffer head, ByteBuffer tail) throws IOException {
        write(offset, head);
        write(offset + head.remaining(), tail);
    }

    /** True once the device has failed: every access throws an {@link IOException} at once. */
    default boolean failed() {
        return false;
    }

    /** Makes every completed write durable (fsync; NBD_CMD_FLUSH). */
    void flush() throws IOException;

    /** What this device is, for messages: kind and path or address. */
    String describe();

    @Override
    void close() throws IOException;
}
