package dev.kvtier.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.chronicle.core.io.ReferenceOwner;

/**
 * A file mapped whole into memory through Chronicle Bytes ({@link MappedFile#ofSingle}). Reads
 * are memcpys from the mapping, from any thread (no {@code MappedBytes} cursor is shared).
 * Writes go through {@code pwrite} on the same file, which shares the page cache with the
 * mapping: a filesystem that runs out of space under the sparse file then fails the write with
 * an {@link IOException} (ENOSPC), where a store into the mapping would fault (SIGBUS) at a
 * moment the JVM may report late. Headers scanned at open are read with {@code pread} too, so
 * holes are not faulted in. The file is sized in whole pages, so Chronicle never has to grow
 * it, and held through {@link LockedFile}.
 */
public final class MappedFileDevice implements BlockDevice {
    private static final long PAGE = 4096;
    private final LockedFile file;
    private final long size;
    private final MappedFile mapped;
    private final MappedBytesStore store;
    private final ReferenceOwner owner = ReferenceOwner.temporary("kvtier-device");
    private final long base;

    private MappedFileDevice(LockedFile file, long size, MappedFile mapped) throws IOException {
        this.file = file;
        this.size = size;
        this.mapped = mapped;
        this.store = mapped.acquireByteStore(owner, 0);
        this.base = store.addressForRead(0);
    }

    /**
     * Opens {@code path}, creating it sparse with {@code size} bytes (rounded down to whole 4 KiB
     * pages) when absent or empty. An existing file of another size is resized when {@code resize}
     * is true and refused otherwise, so a changed capacity is never silently ignored. A path that
     * is not a regular file (a block device, FIFO, character device, directory or socket) is
     * refused before it is opened.
     */
    public static MappedFileDevice open(Path path, long size, boolean resize) throws IOException {
        long pages = size & -PAGE;
        if (pages == 0) {
            throw new IOException(path + ": a capacity of " + size + " bytes is less than one 4 KiB page");
        }
        LockedFile file = LockedFile.open(path, pages, resize, false);
        MappedFile mapped = null;
        try {
            mapped = MappedFile.ofSingle(path.toFile(), pages, false);
            return new MappedFileDevice(file, pages, mapped);
        } catch (IOException | RuntimeException e) {
            if (mapped != null) {
                mapped.releaseLast();
            }
            file.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int alignment() {
        return 1;
    }

    @Override
    public boolean readsAreMemoryCopies() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Devices.checkRange(this, offset, dst);
        requireDirect(dst);
        try {
            UnsafeMemory.MEMORY.copyMemory(base + offset, Jvm.address(dst) + dst.position(), dst.remaining());
        } catch (InternalError fault) {
            throw new IOException(describe() + ": read of " + dst.remaining() + " bytes at " + offset + " faulted", fault);
        }
    }

    /** Reads with {@code pread}: a hole reads as zeros without a page being faulted in. */
    @Override
    public void readSparse(long offset, ByteBuffer dst) throws IOException {
        Devices.checkRange(this, offset, dst);
        Devices.readFully(file.raf.getChannel(), offset, dst, this);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        Devices.checkRange(this, offset, src);
        requireDirect(src);
        Devices.writeFully(file.raf.getChannel(), offset, src);
    }

    private void requireDirect(ByteBuffer b) {
        if (!b.isDirect()) {
            throw new IllegalArgumentException(describe() + ": reads and writes take direct buffers");
        }
    }

    /**
     * Writes the file's dirty pages to the device (fsync), which covers writes through the
     * mapping and through {@code pwrite} alike. Chronicle's own {@code syncUpTo} remembers how far it
     * synced once and skips that range afterwards, so it cannot serve here.
     */
    @Override
    public void flush() throws IOException {
        file.raf.getChannel().force(true);
    }

    @Override
    public String describe() {
        return "mapped file " + file.path;
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            store.release(owner);
            mapped.releaseLast();
            file.close();
        }
    }
}
