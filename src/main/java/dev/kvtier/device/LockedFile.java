package dev.kvtier.device;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A device file held for exclusive use: checked to be a regular file (or, where allowed, a
 * block device) without being opened, claimed in a JVM-wide registry (POSIX locks do not
 * exclude the same process, and closing any descriptor of the file would drop them), locked
 * against other processes, and only then sized. The descriptor stays open, keeping the lock,
 * until {@link #close()}.
 *
 * <p>Or held for shared use ({@link #openShared}), by any number of caches in any processes on
 * any hosts (a multi-attached NVMe-over-TCP namespace): no lock is kept, and the file is refused
 * only while a cache holds it for exclusive use, here or in another process of this host.
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
     * Checks, claims, locks and sizes {@code path}: a new or empty regular file to {@code bytes};
     * an existing one of another size only with {@code resize}; a block device, accepted only
     * where {@code blockDevice}, keeps its size. Anything else is refused before it is opened.
     */
    static LockedFile open(Path path, long bytes, boolean resize, boolean blockDevice) throws IOException {
        boolean regular = isRegularFile(path, blockDevice);
        Path claimed = claim(path);
        RandomAccessFile raf = null;
        try {
            raf = new RandomAccessFile(path.toFile(), "rw");
            Devices.uninterruptible(raf.getChannel());
            FileLock lock = tryLock(raf, path);
            if (regular) {
                Devices.sizeFile(raf, path, bytes, resize);
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

    /**
     * Opens an existing regular file or block device for shared use (see the class comment);
     * it is never created or sized: a shared device is set up once, by whoever provisions it.
     */
    static LockedFile openShared(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path + ": a shared device must exist (create and size it once, e.g."
                    + " truncate -s 64G FILE, or attach the block device)");
        }
        isRegularFile(path, true);
        if (OPEN.contains(path.toRealPath())) {
            throw new IOException(path + " is in use by another cache in this process as a local tier");
        }
        RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw");
        try {
            Devices.uninterruptible(raf.getChannel());
            refuseIfLocked(raf, path);
            return new LockedFile(path, null, raf, null);
        } catch (IOException | RuntimeException e) {
            raf.close();
            throw e;
        }
    }

    /** Fails if another process holds {@code path} for exclusive use; probes with a shared lock, released at once. */
    private static void refuseIfLocked(RandomAccessFile raf, Path path) throws IOException {
        synchronized (LockedFile.class) { // two probes of this JVM at once would overlap
            FileLock probe = raf.getChannel().tryLock(0, Long.MAX_VALUE, true);
            if (probe == null) {
                throw new IOException(path + " is in use by another process as a local tier (it holds the file lock)");
            }
            probe.release();
        }
    }

    /**
     * Whether {@code path} is (or, absent, will be created as) a regular file rather than an
     * accepted block device; anything else is refused with what it is. The path is only
     * stat'ed, following links: opening a FIFO could block for good, and a character device
     * such as /dev/null cannot keep blocks. The type is the S_IFMT bits of {@code unix:mode}
     * ({@code BasicFileAttributes} calls FIFOs, devices and sockets alike "other").
     */
    private static boolean isRegularFile(Path path, boolean blockDevice) throws IOException {
        int type;
        try {
            type = (int) Files.getAttribute(path, "unix:mode") & 0170000;
        } catch (NoSuchFileException absent) {
            return true;
        }
        if (type == 0100000) {
            return true;
        }
        if (type == 0060000 && blockDevice) {
            return false;
        }
        String what = switch (type) {
            case 0060000 -> "a block device";
            case 0040000 -> "a directory";
            case 0020000 -> "a character device";
            case 0010000 -> "a FIFO";
            case 0140000 -> "a socket";
            default -> "of file type " + Integer.toOctalString(type);
        };
        throw new IOException(path + " is " + what + (blockDevice ? ", not a regular file or block device"
                : ", not a regular file (a block device is used with O_DIRECT only)"));
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
            if (lock != null) {
                lock.release();
            }
            raf.close();
        } finally {
            if (claimed != null) {
                OPEN.remove(claimed);
            }
        }
    }
}
