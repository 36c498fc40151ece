package dev.kvtier.device;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * A regular file read and written through the page cache with {@code pread} and {@code pwrite}
 * ({@link FileChannel} positional I/O), any offset, length and buffer. Not a memory mapping: a
 * mapped file truncated under the cache faults (SIGBUS) on the next access beyond its new end,
 * and the JVM reports that late ({@code InternalError: a fault occurred in a recent unsafe
 * memory access operation}, on JDK 17 at some later point of the thread, after the copy has
 * returned bytes that were never read), which killed I/O threads and hung loads. Positional I/O
 * reports the truncation where it happens, and fails the device ({@link FileFault}); a full
 * filesystem under the sparse file fails a write with ENOSPC. Holes read as zeros without being
 * allocated. The file is sized in whole 4 KiB pages and held through {@link LockedFile}.
 */
public final class BufferedFileDevice implements BlockDevice {
    private static final long PAGE = 4096;
    private final LockedFile file;
    private final FileChannel channel;
    private final long size;
    private final FileFault fault = new FileFault(this);

    private BufferedFileDevice(LockedFile file, long size) {
        this.file = file;
        this.channel = file.raf.getChannel();
        this.size = size;
    }

    /**
     * Opens {@code path}, creating it sparse with {@code size} bytes (rounded down to whole 4 KiB
     * pages) when absent or empty. An existing file of another size is resized when {@code resize}
     * is true and refused otherwise, so a changed capacity is never silently ignored. A path that
     * is not a regular file (a block device, FIFO, character device, directory or socket) is
     * refused before it is opened.
     */
    public static BufferedFileDevice open(Path path, long size, boolean resize) throws IOException {
        long pages = size & -PAGE;
        if (pages == 0) {
            throw new IOException(path + ": a capacity of " + size + " bytes is less than one 4 KiB page");
        }
        return new BufferedFileDevice(LockedFile.open(path, pages, resize, false), pages);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int alignment() {
        return 1;
    }

    /** A read is a copy out of the page cache (a system call, no I/O thread needed while the file is cached). */
    @Override
    public boolean readsAreMemoryCopies() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Devices.checkRange(this, offset, dst);
        fault.readFully(channel, offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        Devices.checkRange(this, offset, src);
        fault.writeFully(channel, offset, src);
    }

    @Override
    public boolean failed() {
        return fault.failed();
    }

    /** Writes the file's dirty pages and its metadata to the device (fsync). */
    @Override
    public void flush() throws IOException {
        channel.force(true);
    }

    @Override
    public String describe() {
        return "file " + file.path;
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            file.close();
        }
    }
}
