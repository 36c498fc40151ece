package dev.kvtier.device;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import net.openhft.chronicle.core.Jvm;

/**
 * A file or raw block device (for example a kernel-attached NVMe-over-TCP namespace) opened
 * with O_DIRECT through {@link FileChannel}: no page cache, so offsets, lengths and buffers
 * must be aligned to the device's logical block size. A regular file is created sparse with
 * the requested size; a block device keeps its own size. Anything else (a FIFO, a character
 * device such as /dev/null, a directory, a socket) is refused before it is opened. A file
 * truncated under the cache fails the device ({@link FileFault}).
 */
public final class DirectFileDevice implements BlockDevice {
    private final LockedFile file;
    private final FileChannel channel;
    private final long size;
    private final int alignment;
    private final FileFault fault = new FileFault(this);

    private DirectFileDevice(LockedFile file, FileChannel channel, long size, int alignment) {
        this.file = file;
        this.channel = channel;
        this.size = size;
        this.alignment = alignment;
    }

    /**
     * Opens {@code path} with O_DIRECT, creating, resizing or refusing a regular file as
     * {@link BufferedFileDevice#open} does; a block device is used up to {@code size} bytes.
     */
    public static DirectFileDevice open(Path path, long size, boolean resize) throws IOException {
        int alignment = blockSize(Files.exists(path) ? path : path.toAbsolutePath().getParent());
        long wanted = size & -(long) alignment;
        return open(path, wanted, alignment, LockedFile.open(path, wanted, resize, true));
    }

    /**
     * Opens an existing file or block device that caches in other processes or on other hosts
     * may have open too (a shared tier), up to {@code size} bytes: no lock, no resizing; refused
     * while a cache of this host uses it as a local tier.
     */
    public static DirectFileDevice openShared(Path path, long size) throws IOException {
        LockedFile file = LockedFile.openShared(path);
        try {
            int alignment = blockSize(path);
            return open(path, size & -(long) alignment, alignment, file);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static DirectFileDevice open(Path path, long wanted, int alignment, LockedFile file) throws IOException {
        FileChannel ch = null;
        try {
            ch = Devices.uninterruptible(FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    ExtendedOpenOption.DIRECT));
            long usable = Math.min(ch.size(), wanted) & -(long) alignment;
            return new DirectFileDevice(file, ch, usable, alignment);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            file.close();
            throw e;
        }
    }

    private static int blockSize(Path path) throws IOException {
        try {
            long b = Files.getFileStore(path).getBlockSize();
            return b >= 512 && b <= 4096 && Long.bitCount(b) == 1 ? (int) b : 4096;
        } catch (UnsupportedOperationException e) {
            return 4096;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int alignment() {
        return alignment;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Devices.checkRange(this, offset, dst);
        Devices.checkAligned(this, offset, dst, Jvm.address(dst) + dst.position());
        fault.readFully(channel, offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        Devices.checkRange(this, offset, src);
        Devices.checkAligned(this, offset, src, Jvm.address(src) + src.position());
        fault.writeFully(channel, offset, src);
    }

    @Override
    public boolean failed() {
        return fault.failed();
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public String describe() {
        return "O_DIRECT device " + file.path;
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            file.close();
        }
    }
}
