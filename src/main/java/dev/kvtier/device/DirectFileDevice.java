package dev.kvtier.device;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import net.openhft.chronicle.core.Jvm;

/**
 * A file or raw block device (for example a kernel-attached NVMe-over-TCP namespace) opened
 * with O_DIRECT through {@link FileChannel}: no page cache, so offsets, lengths and buffers
 * must be aligned to the device's logical block size. A regular file is created sparse with
 * the requested size; a block device keeps its own size.
 */
public final class DirectFileDevice implements BlockDevice {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;
    private final long size;
    private final int alignment;

    private DirectFileDevice(Path path, FileChannel channel, FileLock lock, long size, int alignment) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
        this.size = size;
        this.alignment = alignment;
    }

    /**
     * Opens {@code path} with O_DIRECT, creating, resizing or refusing a regular file as
     * {@link MappedFileDevice#open} does; a block device is used up to {@code size} bytes.
     */
    public static DirectFileDevice open(Path path, long size, boolean resize) throws IOException {
        boolean fresh = !Files.exists(path);
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
        try {
            FileLock lock = MappedFileDevice.lockOrThrow(ch, path);
            int alignment = blockSize(path);
            long wanted = size & -(long) alignment;
            if (Files.isRegularFile(path)) {
                try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
                    Devices.sizeFile(raf, path, wanted, fresh, resize);
                }
            }
            long usable = Math.min(ch.size(), wanted) & -(long) alignment;
            return new DirectFileDevice(path, ch, lock, usable, alignment);
        } catch (IOException | RuntimeException e) {
            ch.close();
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
        ByteBuffer b = dst.duplicate();
        while (b.hasRemaining()) {
            int n = channel.read(b, offset + (b.position() - dst.position()));
            if (n < 0) {
                throw new IOException(describe() + ": end of device at " + (offset + b.position() - dst.position()));
            }
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        Devices.checkRange(this, offset, src);
        Devices.checkAligned(this, offset, src, Jvm.address(src) + src.position());
        ByteBuffer b = src.duplicate();
        while (b.hasRemaining()) {
            channel.write(b, offset + (b.position() - src.position()));
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public String describe() {
        return "O_DIRECT device " + path;
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
