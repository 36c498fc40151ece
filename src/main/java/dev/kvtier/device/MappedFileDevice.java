package dev.kvtier.device;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
import net.openhft.chronicle.core.io.ReferenceOwner;

/**
 * A file mapped whole into memory through Chronicle Bytes ({@link MappedFile#ofSingle}); reads
 * and writes are memcpys to and from the mapping, from any thread (no {@code MappedBytes}
 * cursor is shared). The file is created sparse at the requested size (whole pages, so Chronicle
 * never has to grow it) and locked against a second user once mapped. A write that faults (the filesystem ran out of space under a sparse file)
 * arrives as an {@link InternalError} from the copy and leaves here as an {@link IOException}.
 */
public final class MappedFileDevice implements BlockDevice {
    private static final long PAGE = 4096;
    private final Path path;
    private final long size;
    private final RandomAccessFile file;
    private final FileLock lock;
    private final MappedFile mapped;
    private final MappedBytesStore store;
    private final ReferenceOwner owner = ReferenceOwner.temporary("kvtier-device");
    private final long base;

    private MappedFileDevice(Path path, long size, RandomAccessFile file, MappedFile mapped) throws IOException {
        this.path = path;
        this.size = size;
        this.file = file;
        this.mapped = mapped;
        this.store = mapped.acquireByteStore(owner, 0);
        this.base = store.addressForWrite(0);
        this.lock = lockOrThrow(file.getChannel(), path);
    }

    /**
     * Opens {@code path}, creating it sparse with {@code size} bytes (rounded down to whole 4 KiB
     * pages) when absent. An existing file of another size is resized when {@code resize} is
     * true and refused otherwise, so a changed capacity is never silently ignored.
     */
    public static MappedFileDevice open(Path path, long size, boolean resize) throws IOException {
        File f = path.toFile();
        boolean fresh = !f.exists();
        long pages = size & -PAGE;
        if (pages == 0) {
            throw new IOException(path + ": a capacity of " + size + " bytes is less than one 4 KiB page");
        }
        RandomAccessFile raf = new RandomAccessFile(f, "rw");
        MappedFile mapped = null;
        try {
            Devices.sizeFile(raf, path, pages, fresh, resize);
            mapped = MappedFile.ofSingle(f, pages, false);
            return new MappedFileDevice(path, pages, raf, mapped);
        } catch (IOException | RuntimeException e) {
            if (mapped != null) {
                mapped.releaseLast();
            }
            raf.close();
            throw e;
        }
    }

    static FileLock lockOrThrow(FileChannel channel, Path path) throws IOException {
        FileLock lock = channel.tryLock();
        if (lock == null) {
            throw new IOException(path + " is in use by another process (it holds the file lock)");
        }
        return lock;
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
    public void read(long offset, ByteBuffer dst) throws IOException {
        Devices.checkRange(this, offset, dst);
        requireDirect(dst);
        UnsafeMemory.MEMORY.copyMemory(base + offset, Jvm.address(dst) + dst.position(), dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        Devices.checkRange(this, offset, src);
        requireDirect(src);
        try {
            UnsafeMemory.MEMORY.copyMemory(Jvm.address(src) + src.position(), base + offset, src.remaining());
        } catch (InternalError fault) {
            throw new IOException(describe() + ": write of " + src.remaining() + " bytes at " + offset
                    + " faulted (is the filesystem full?)", fault);
        }
    }

    private void requireDirect(ByteBuffer b) {
        if (!b.isDirect()) {
            throw new IllegalArgumentException(describe() + ": reads and writes take direct buffers");
        }
    }

    /**
     * Writes the file's dirty pages to the device (fsync): the mapping shares the page cache, so
     * this covers every completed write. Chronicle's own {@code syncUpTo} remembers how far it
     * synced once and skips that range afterwards, so it cannot serve here.
     */
    @Override
    public void flush() throws IOException {
        file.getChannel().force(true);
    }

    @Override
    public String describe() {
        return "mapped file " + path;
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            store.release(owner);
            mapped.releaseLast();
            lock.release();
            file.close();
        }
    }
}
