package dev.kvtier;

import dev.kvtier.key.BlockKey;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pinned DRAM block. Leak detection in the manner of Netty's: a {@link Cleaner} watches the
 * handle, and if the handle becomes unreachable while open, the cleaner logs the leak and
 * counts it; the block is quarantined (out of the index, its page never reused), since a view
 * taken from the handle may outlive it. The cleaning action holds no reference to the handle.
 */
final class DramBlockHandle implements BlockHandle {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final Logger LOG = LoggerFactory.getLogger(BlockHandle.class);

    private final TieredCache cache;
    private final BlockKey key;
    private final long address;
    private final ByteBuffer view;
    private final PinRelease release;
    private final Cleaner.Cleanable cleanable;

    DramBlockHandle(TieredCache cache, BlockKey key, int entry, long address, ByteBuffer view) {
        this.cache = cache;
        this.key = key;
        this.address = address;
        this.view = view;
        this.release = new PinRelease(cache, entry, key.toHex());
        this.cleanable = CLEANER.register(this, release);
    }

    @Override
    public BlockKey key() {
        return key;
    }

    @Override
    public int length() {
        return view.capacity();
    }

    @Override
    public long address() {
        checkOpen();
        return address;
    }

    @Override
    public ByteBuffer bytes() {
        checkOpen();
        return view.duplicate();
    }

    @Override
    public void close() {
        if (release.closed.compareAndSet(false, true)) {
            cleanable.clean();
        }
    }

    private void checkOpen() {
        if (release.closed.get()) {
            throw new IllegalStateException("handle of block " + key.toHex() + " is closed");
        }
        if (cache.isClosed()) {
            throw new CacheClosedException("the cache of block " + key.toHex() + " is closed; its memory is freed");
        }
    }

    /** Releases the pin once: explicitly on close, or as a leak when the handle is collected. */
    private static final class PinRelease implements Runnable {
        final AtomicBoolean closed = new AtomicBoolean();
        private final TieredCache cache;
        private final int entry;
        private final String keyHex;

        PinRelease(TieredCache cache, int entry, String keyHex) {
            this.cache = cache;
            this.entry = entry;
            this.keyHex = keyHex;
        }

        @Override
        public void run() {
            boolean leaked = closed.compareAndSet(false, true);
            if (leaked) {
                LOG.warn("leaked pin: a BlockHandle of block {} was garbage collected without close()", keyHex);
            }
            cache.releaseHandlePin(entry, leaked);
        }
    }
}
