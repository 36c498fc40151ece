package dev.kvtier;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;

/**
 * A pinned, read-only, zero-copy view of one DRAM block (from {@link KvTierCache#acquire}).
 * While it is open the block is neither evicted nor overwritten. {@link #close()} unpins it
 * and is idempotent. A handle that is dropped without being closed is reported as a
 * leaked pin (a warning and {@link CacheStats#leakedPins()}) when it is garbage collected; its
 * block then leaves the cache and its page is never reused, in case a view of it is still in
 * use. The memory must not be read after {@code close()} of the handle or of the cache.
 */
public interface BlockHandle extends AutoCloseable {
    /** The block's key. */
    BlockKey key();

    /** Length of the block in bytes. */
    int length();

    /** Native address of the block's first byte, for copies into pinned device buffers. */
    long address();

    /** A new read-only buffer over the block's bytes (position 0, limit {@link #length()}). */
    ByteBuffer bytes();

    /** Releases the pin; closing again does nothing, as with every {@code Closeable} of the JDK. */
    @Override
    void close();
}
