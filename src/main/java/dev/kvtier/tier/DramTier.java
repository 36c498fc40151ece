package dev.kvtier.tier;

import java.nio.ByteBuffer;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;

/**
 * The off-heap DRAM tier: a fixed slab of block-sized pages, allocated once through Chronicle
 * Bytes native stores and never grown. Pages are {@code blockBytes} rounded up to 64 bytes, so
 * pages keep the alignment of their chunk (16 bytes from the native allocator; the JMH
 * benchmark shows no copy-speed difference from 64-byte alignment on x86-64); the slab is cut into chunks of at most 1 GiB so that each chunk
 * has one {@link ByteBuffer} view for zero-copy reads. Free pages sit on an {@code int} stack.
 *
 * <p>Invariants: {@code pageCount * pageStride <= capacityBytes}; a page is either on the free
 * stack or owned by exactly one index entry. Not thread-safe: the cache serialises allocate and
 * free under its metadata lock; copies into and out of owned pages run outside it.
 */
public final class DramTier implements AutoCloseable {
    private static final long MAX_CHUNK = 1L << 30;
    private static final int ALIGN = 64;

    private final int blockBytes;
    private final int pageStride;
    private final int pageCount;
    private final int pagesPerChunk;
    private final BytesStore<?, Void>[] chunks;
    private final long[] chunkAddress;
    private final ByteBuffer[] chunkView;
    private final int[] freeStack;
    private int freeTop;
    private boolean closed;

    @SuppressWarnings("unchecked")
    public DramTier(long capacityBytes, int blockBytes) {
        this.blockBytes = blockBytes;
        this.pageStride = (blockBytes + ALIGN - 1) & -ALIGN;
        long pages = capacityBytes / pageStride;
        if (pages < 1 || pages > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("DRAM capacity " + capacityBytes + " bytes holds "
                    + pages + " pages of " + pageStride + " bytes; need 1 to 2^31-9");
        }
        pageCount = (int) pages;
        pagesPerChunk = (int) Math.max(1, Math.min(pageCount, MAX_CHUNK / pageStride));
        int nChunks = (pageCount + pagesPerChunk - 1) / pagesPerChunk;
        chunks = new BytesStore[nChunks];
        chunkAddress = new long[nChunks];
        chunkView = new ByteBuffer[nChunks];
        try {
            for (int c = 0; c < nChunks; c++) {
                int pagesHere = Math.min(pagesPerChunk, pageCount - c * pagesPerChunk);
                chunks[c] = BytesStore.nativeStoreWithFixedCapacity((long) pagesHere * pageStride);
                chunkAddress[c] = chunks[c].addressForWrite(0);
                chunkView[c] = chunks[c].toTemporaryDirectByteBuffer();
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            releaseChunks();
            throw e;
        }
        freeStack = new int[pageCount];
        for (int i = 0; i < pageCount; i++) {
            freeStack[i] = pageCount - 1 - i;
        }
        freeTop = pageCount;
    }

    public int blockBytes() {
        return blockBytes;
    }

    public int pageCount() {
        return pageCount;
    }

    public int freePages() {
        return freeTop;
    }

    /** Bytes of native memory this tier holds: page count times page stride. */
    public long reservedBytes() {
        return (long) pageCount * pageStride;
    }

    /** A free page, or -1 when all are used. */
    public int allocate() {
        return freeTop == 0 ? -1 : freeStack[--freeTop];
    }

    public void free(int page) {
        checkPage(page);
        freeStack[freeTop++] = page;
    }

    /** Native address of the first byte of {@code page}. */
    public long address(int page) {
        checkPage(page);
        int c = page / pagesPerChunk;
        return chunkAddress[c] + (long) (page - c * pagesPerChunk) * pageStride;
    }

    /** A read-only zero-copy view of one page's {@code blockBytes}. */
    public ByteBuffer view(int page) {
        return writableView(page).asReadOnlyBuffer();
    }

    /**
     * Copies the block at {@code src}'s position into {@code page}. Direct buffers take one
     * memmove; heap buffers a bulk put. The buffer's position and limit are left as they were.
     */
    public void copyIn(ByteBuffer src, int page) {
        if (src.isDirect()) {
            copyIn(Jvm.address(src) + src.position(), page);
        } else {
            writableView(page).put(src.duplicate().limit(src.position() + blockBytes));
        }
    }

    /** Copies {@code blockBytes} from native address {@code src} into {@code page}. */
    public void copyIn(long src, int page) {
        UnsafeMemory.MEMORY.copyMemory(src, address(page), blockBytes);
    }

    /** Copies {@code page} to {@code dst} from its position, which is left unchanged. */
    public void copyOut(int page, ByteBuffer dst) {
        if (dst.isDirect()) {
            copyOut(page, Jvm.address(dst) + dst.position());
        } else {
            dst.duplicate().put(writableView(page));
        }
    }

    /** Copies {@code page} to native address {@code dst}. */
    public void copyOut(int page, long dst) {
        UnsafeMemory.MEMORY.copyMemory(address(page), dst, blockBytes);
    }

    /**
     * A reusable view of any one page at a time, for a hot path that must not allocate per block:
     * {@link #of} repositions a buffer over the page's chunk (position and limit bound the
     * page's {@code blockBytes}) instead of making one. Owned by one user at a time; a buffer it
     * returned is valid until the next call for a page of the same chunk.
     */
    public final class Window {
        private final ByteBuffer[] chunks = new ByteBuffer[chunkView.length];

        /** Page {@code page}'s bytes, between the returned buffer's position and limit. */
        public ByteBuffer of(int page) {
            checkPage(page);
            int c = page / pagesPerChunk;
            int off = (page - c * pagesPerChunk) * pageStride;
            ByteBuffer b = chunks[c];
            if (b == null) {
                b = chunks[c] = chunkView[c].duplicate();
            }
            return b.limit(off + blockBytes).position(off);
        }
    }

    /** A new {@link Window} on this tier's pages. */
    public Window window() {
        return new Window();
    }

    private ByteBuffer writableView(int page) {
        checkPage(page);
        int c = page / pagesPerChunk;
        int off = (page - c * pagesPerChunk) * pageStride;
        return chunkView[c].duplicate().position(off).limit(off + blockBytes).slice();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            releaseChunks();
        }
    }

    private void releaseChunks() {
        for (int c = 0; c < chunks.length; c++) {
            if (chunks[c] != null) {
                chunks[c].releaseLast();
                chunks[c] = null;
            }
        }
    }

    /** True once every native chunk has been released. */
    public boolean isReleased() {
        for (BytesStore<?, Void> c : chunks) {
            if (c != null) {
                return false;
            }
        }
        return true;
    }

    private void checkPage(int page) {
        if (Bounds.CHECKED && (page < 0 || page >= pageCount || closed)) {
            throw new IndexOutOfBoundsException("page " + page + " of " + pageCount
                    + (closed ? " (tier closed)" : ""));
        }
    }
}
