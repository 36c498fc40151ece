package dev.kvtier.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.ChildJvm;
import dev.kvtier.OddFiles;
import dev.kvtier.TargetTempDir;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link BlockDevice} on a file must do; a subclass per implementation runs it.
 * Files live under target/ (see {@link TargetTempDir}): /tmp may not take O_DIRECT.
 */
abstract class BlockDeviceContract {
    static final long MIB = 1 << 20;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    abstract BlockDevice open(Path path, long size, boolean resize) throws IOException;

    /** "buffered" or "direct", for {@link DeviceOpener}. */
    abstract String kind();

    /** A direct buffer of {@code n} bytes whose address is a multiple of {@code alignment}. */
    static ByteBuffer aligned(int n, int alignment) {
        int a = Math.max(alignment, 64);
        int rounded = (n + a - 1) & -a;
        return ByteBuffer.allocateDirect(rounded + a).alignedSlice(a).limit(n).slice();
    }

    static ByteBuffer randomBlock(int n, int alignment, long seed) {
        ByteBuffer b = aligned(n, alignment);
        byte[] bytes = new byte[n];
        new Random(seed).nextBytes(bytes);
        b.put(0, bytes);
        return b;
    }

    @Test
    void writesReadBackAtSeveralOffsetsAndLandInTheFileThere() throws Exception {
        Path file = dir.resolve("dev");
        long size = 8 * MIB;
        try (BlockDevice d = open(file, size, false)) {
            int a = d.alignment();
            assertEquals(size, d.size());
            int n = Math.max(a, 4096);
            long[] offsets = {0, n, 5L * n, MIB - n, MIB, 3 * MIB + 7L * n, size - n};
            for (int i = 0; i < offsets.length; i++) {
                ByteBuffer w = randomBlock(n, a, i);
                d.write(offsets[i], w);
                assertEquals(0, w.position());
                assertEquals(n, w.limit());
            }
            d.flush();
            for (int i = 0; i < offsets.length; i++) {
                ByteBuffer r = aligned(n, a);
                d.read(offsets[i], r);
                assertEquals(0, r.position());
                assertEquals(n, r.limit());
                assertEquals(randomBlock(n, a, i), r, "offset " + offsets[i]);
            }
            // the device offset is the file offset: read the file beside the device
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                for (int i = 0; i < offsets.length; i++) {
                    ByteBuffer r = ByteBuffer.allocate(n);
                    ch.read(r, offsets[i]);
                    assertEquals(randomBlock(n, a, i), r.flip(), "file bytes at " + offsets[i]);
                }
            }
            // a buffer's position and limit choose the bytes moved
            ByteBuffer big = randomBlock(4 * n, a, 99);
            ByteBuffer part = big.duplicate().position(n).limit(3 * n);
            d.write(2 * MIB, part);
            assertEquals(n, part.position());
            ByteBuffer back = aligned(4 * n, a);
            ByteBuffer into = back.duplicate().position(2 * n).limit(4 * n);
            d.read(2 * MIB, into);
            assertEquals(2 * n, into.position());
            assertEquals(big.duplicate().position(n).limit(3 * n), back.duplicate().position(2 * n));
            assertEquals(aligned(2 * n, a), back.duplicate().limit(2 * n), "bytes before the range untouched");
        }
        // durable across a close and reopen
        try (BlockDevice d = open(file, size, false)) {
            ByteBuffer r = aligned(Math.max(d.alignment(), 4096), d.alignment());
            d.read(size - r.capacity(), r);
            assertEquals(randomBlock(r.capacity(), d.alignment(), 6), r);
        }
    }

    @Test
    void accessesOutsideTheDeviceAreIoExceptionsNamingTheRange() throws Exception {
        try (BlockDevice d = open(dir.resolve("dev"), MIB, false)) {
            int a = d.alignment();
            ByteBuffer b = aligned(Math.max(a, 4096), a);
            int n = b.capacity();
            long[][] bad = {{-a, -a + n}, {MIB - n + a, MIB + a}, {MIB, MIB + n}, {Long.MAX_VALUE & -a,
                (Long.MAX_VALUE & -a) + n}};
            for (long[] range : bad) {
                String expected = "access [" + range[0] + ", " + range[1] + ") is outside the device's " + MIB
                        + " bytes";
                IOException r = assertThrows(IOException.class, () -> d.read(range[0], b));
                assertTrue(r.getMessage().contains(expected), r.getMessage());
                assertTrue(r.getMessage().contains(d.describe()), r.getMessage());
                IOException w = assertThrows(IOException.class, () -> d.write(range[0], b));
                assertTrue(w.getMessage().contains(expected), w.getMessage());
            }
            d.read(MIB - n, b); // the last block is inside
        }
    }

    /**
     * The file truncated by another process under an open device: the first access past the new
     * end (a read reaching it, or any write, checked against the file's length) is an IOException
     * naming the device, the offset and the truncation; the device has failed for good, so every
     * later access throws at once, and no write extends the file again.
     */
    @Test
    void aFileTruncatedUnderTheDeviceFailsItAtTheFirstReadOrWrite() throws Exception {
        for (boolean readFirst : new boolean[] {true, false}) {
            Path file = dir.resolve("truncated-" + readFirst);
            try (BlockDevice d = open(file, 4 * MIB, false)) {
                int n = Math.max(d.alignment(), 4096);
                ByteBuffer b = randomBlock(n, d.alignment(), 1);
                d.write(3 * MIB, b);
                d.write(0, b);
                truncate(file, n);
                assertTrue(!d.failed(), "nothing has found the truncation yet");
                long at = readFirst ? 3 * MIB : 2 * MIB;
                IOException first = assertThrows(IOException.class,
                        () -> {
                            if (readFirst) {
                                d.read(at, aligned(n, d.alignment()));
                            } else {
                                d.write(at, b);
                            }
                        });
                String m = first.getMessage();
                assertTrue(m.startsWith(d.describe() + ": " + (readFirst ? "read" : "write") + " of " + n + " bytes at "
                        + at) && m.contains("probably truncated"), m);
                assertTrue(d.failed());
                IOException later = assertThrows(IOException.class, () -> d.read(0, aligned(n, d.alignment())));
                assertTrue(later.getMessage().startsWith(d.describe() + " has failed: "), later.getMessage());
                assertThrows(IOException.class, () -> d.write(3 * MIB, b));
                assertEquals(n, Files.size(file), "no write extended the truncated file");
            }
        }
    }

    /** Truncates {@code file} to {@code bytes} from another process, as an operator would. */
    static void truncate(Path file, long bytes) throws Exception {
        Process p = new ProcessBuilder("truncate", "-s", String.valueOf(bytes), file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
    }

    @Test
    void aFreshFileIsSparseAndHasTheRequestedLength() throws Exception {
        Path file = dir.resolve("sparse");
        long size = 256 * MIB;
        try (BlockDevice d = open(file, size, false)) {
            ByteBuffer b = randomBlock(Math.max(d.alignment(), 4096), d.alignment(), 1);
            d.write(100 * MIB, b);
            d.flush();
            assertEquals(size, Files.size(file));
            long kib = allocatedKib(file);
            assertTrue(kib < 8 * 1024, "a " + size + "-byte file should be sparse, has " + kib + " KiB allocated");
        }
    }

    /** Disk blocks allocated to {@code file}, as du reports them. */
    static long allocatedKib(Path file) throws Exception {
        Process p = new ProcessBuilder("du", "-k", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), out);
        return Long.parseLong(out.split("\\s+")[0]);
    }

    @Test
    void anExistingFileOfAnotherSizeIsRefusedUnlessResized() throws Exception {
        Path file = dir.resolve("dev");
        try (BlockDevice d = open(file, 2 * MIB, false)) {
            d.write(MIB, randomBlock(Math.max(d.alignment(), 4096), d.alignment(), 3));
        }
        IOException e = assertThrows(IOException.class, () -> open(file, 4 * MIB, false).close());
        assertTrue(e.getMessage().contains("is 2097152 bytes but the tier is configured for 4194304"), e.getMessage());
        assertEquals(2 * MIB, Files.size(file), "a refused open leaves the file as it was");
        try (BlockDevice d = open(file, 4 * MIB, true)) {
            assertEquals(4 * MIB, d.size());
            ByteBuffer r = aligned(Math.max(d.alignment(), 4096), d.alignment());
            d.read(MIB, r);
            assertEquals(randomBlock(r.capacity(), d.alignment(), 3), r, "growing keeps the bytes");
        }
        assertEquals(4 * MIB, Files.size(file));
    }

    @Test
    void anEmptyFileIsSizedLikeAnAbsentOne() throws Exception {
        Path file = Files.createFile(dir.resolve("empty"));
        try (BlockDevice d = open(file, 256 * MIB, false)) {
            assertEquals(256 * MIB, d.size());
            assertEquals(256 * MIB, Files.size(file));
            assertTrue(allocatedKib(file) < 8 * 1024, "sized sparse");
        }
    }

    @Test
    void whatIsNotARegularFileOrBlockDeviceIsRefusedUnopenedNamingWhatItIs() throws Exception {
        Path fifo = OddFiles.mkfifo(dir.resolve("fifo"));
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path socket = dir.resolve("socket");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            String accepted = kind().equals("direct") ? ", not a regular file or block device"
                    : ", not a regular file (a block device is used with O_DIRECT only)";
            String[][] cases = {{fifo.toString(), "a FIFO"}, {"/dev/null", "a character device"},
                {"/dev/zero", "a character device"}, {sub.toString(), "a directory"}, {socket.toString(), "a socket"}};
            for (String[] c : cases) {
                Path path = Path.of(c[0]);
                long fds = OddFiles.descriptorsOn(path);
                IOException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                        () -> assertThrows(IOException.class, () -> open(path, MIB, true).close()));
                assertEquals(path + " is " + c[1] + accepted, e.getMessage());
                assertEquals(fds, OddFiles.descriptorsOn(path), "descriptors of " + path + " left open");
            }
        }
        assertTrue(Files.readAttributes(fifo, BasicFileAttributes.class).isOther(), "the FIFO is left as it was");
        try (var entries = Files.list(sub)) {
            assertEquals(0, entries.count(), "nothing is created in the directory");
        }
    }

    @Test
    void aSizeIsRoundedDownToWholePagesOrBlocks() throws Exception {
        Path file = dir.resolve("odd");
        long asked = 3 * 4096 + 100;
        try (BlockDevice d = open(file, asked, false)) {
            assertEquals(3 * 4096, d.size());
            assertEquals(3 * 4096, Files.size(file));
        }
        try (BlockDevice d = open(file, asked, false)) {
            assertEquals(3 * 4096, d.size(), "reopening with the same setting fits the file made from it");
        }
    }

    @Test
    void disjointRangesFromManyThreads() throws Exception {
        try (BlockDevice d = open(dir.resolve("dev"), 8 * MIB, false)) {
            int n = Math.max(d.alignment(), 4096);
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> f = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int id = t;
                    f.add(pool.submit(() -> {
                        for (int i = 0; i < 64; i++) {
                            long off = (long) (i * 4 + id) * n;
                            d.write(off, randomBlock(n, d.alignment(), off));
                        }
                        for (int i = 0; i < 64; i++) {
                            long off = (long) (i * 4 + id) * n;
                            ByteBuffer r = aligned(n, d.alignment());
                            d.read(off, r);
                            assertEquals(randomBlock(n, d.alignment(), off), r);
                        }
                        return null;
                    }));
                }
                for (Future<?> x : f) {
                    x.get();
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void anotherProcessCannotOpenAFileInUseAndCanOnceItIsClosed() throws Exception {
        Path file = dir.resolve("locked");
        try (BlockDevice d = open(file, MIB, false)) {
            ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), DeviceOpener.class, kind(), file.toString(),
                    String.valueOf(MIB));
            assertTrue(r.output().contains("thrown java.io.IOException: " + file + " is in use by another process"),
                    r.output());
        }
        try (BlockDevice d = open(file, MIB, false)) {
            assertEquals(MIB, d.size(), "closing released the lock: it opens again");
        }
    }

    @Test
    void anotherProcessCannotResizeAFileInUse() throws Exception {
        // Only the process holding the lock may change the file: the check must come before the resize.
        Path file = dir.resolve("locked");
        try (BlockDevice d = open(file, 4 * MIB, false)) {
            ByteBuffer w = randomBlock(Math.max(d.alignment(), 4096), d.alignment(), 5);
            d.write(3 * MIB, w);
            ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), DeviceOpener.class, kind(), file.toString(),
                    String.valueOf(MIB), "resize");
            assertTrue(r.output().contains("thrown java.io.IOException: " + file + " is in use by another process"),
                    r.output());
            assertEquals(4 * MIB, Files.size(file), "another process truncated a file in use: " + r.output());
            ByteBuffer back = aligned(w.capacity(), d.alignment());
            d.read(3 * MIB, back);
            assertEquals(w, back);
        }
    }

    @Test
    void aSecondOpenInTheSameJvmIsAnIoExceptionNamingTheLock() throws Exception {
        Path file = dir.resolve("locked");
        try (BlockDevice d = open(file, MIB, false)) {
            Throwable t = assertThrows(Throwable.class, () -> open(file, MIB, false).close());
            assertTrue(t instanceof IOException, "BlockDevice opens fail with IOException; got " + t);
            assertTrue(t.getMessage() != null && t.getMessage().contains("in use"), t.getMessage());
        }
    }

    @Test
    void aFailedSecondOpenInTheSameJvmKeepsTheFileLockedAgainstOtherProcesses() throws Exception {
        // POSIX record locks belong to the process: closing ANY descriptor of the file drops
        // them. A second open that fails must not close a descriptor of a file this JVM locked.
        Path file = dir.resolve("locked");
        try (BlockDevice d = open(file, MIB, false)) {
            try {
                open(file, MIB, false).close();
            } catch (Throwable expected) {
                // what it throws is the previous test's business
            }
            ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), DeviceOpener.class, kind(), file.toString(),
                    String.valueOf(MIB));
            assertTrue(r.output().contains("thrown java.io.IOException: " + file + " is in use by another process"),
                    "another process opened a device this JVM still uses: " + r.output());
        }
    }
}
