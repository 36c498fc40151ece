package dev.kvtier.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A device file held for exclusive use: claimed in a JVM-wide registry first (POSIX locks do
 * not exclude the same process, and closing any descriptor of the file would drop them), then
 * locked against other processes, and only then sized. The descriptor stays open, keeping the
 * lock, until {@link #close()}.
 */
final class LockedFile implements AutoCloseable {
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    final Path path;
    final RandomAccessFile raf;
    private final Path claimed;
    private final FileLock lock;

    private LockedFile(Path path, Path claimed, RandomAccessFile raf, FileLock lock) {
        this.path = path;
        this.claimed = claimed;
        this.raf = raf;
        this.lock = lock;
    }

    /**
     * Claims, locks and sizes {@code path}: a new regular file to {@code bytes}; an existing one
     * of another size only with {@code resize}; a block device keeps its size.
     */
    static LockedFile open(Path path, long bytes, boolean resize) throws IOException {
        boolean fresh = !Files.exists(path);
        Path claimed = claim(path);
        RandomAccessFile raf = null;
        try {
            raf = new RandomAccessFile(path.toFile(), "rw");
            Devices.uninterruptible(raf.getChannel());
            FileLock lock = tryLock(raf, path);
            if (Files.isRegularFile(path)) {
                Devices.sizeFile(raf, path, bytes, fresh, resize);
            }
            return new LockedFile(path, claimed, raf, lock);
        } catch (IOException | RuntimeException e) {
            if (raf != null) {
                raf.close();
            }
            OPEN.remove(claimed);
            throw e;
        }
    }

    private static Path claim(Path path) throws IOException {
        Path absolute = path.toAbsolutePath().normalize();
        Path key = Files.exists(absolute) ? absolute.toRealPath() : absolute;
        if (!OPEN.add(key)) {
            throw new IOException(path + " is in use by another cache in this process");
        }
        return key;
    }

    private static FileLock tryLock(RandomAccessFile raf, Path path) throws IOException {
        try {
            FileLock lock = raf.getChannel().tryLock();
            if (lock != null) {
                return lock;
            }
        } catch (OverlappingFileLockException e) {
            // held by this JVM through a descriptor this registry does not know of
        }
        throw new IOException(path + " is in use by another process (it holds the file lock)");
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
            raf.close();
        } finally {
            OPEN.remove(claimed);
        }
    }
}
