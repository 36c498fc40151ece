package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The remote tier on a path ({@code file:} URI): a file opened with O_DIRECT by several
 * processes at once, as hosts share a multi-attached NVMe-over-TCP namespace, in the same
 * shared format as an NBD export. Blocks one process writes are found by another; processes
 * racing for few slots never serve a wrong byte; a file held as a local SSD tier is refused.
 */
class SharedPathTest {
    private static final long SHARED_BYTES = 64L << 20;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void twoProcessesShareBlocksThroughOneODirectFile() throws Exception {
        storeThenLoadInAnotherProcess(sized("shared.img", SHARED_BYTES).toUri().toString(), 1, "the shared file");
    }

    /**
     * The same on a kernel block device (a loop device over a file: what a multi-attached
     * NVMe-over-TCP namespace is to each host), where the file's size is 0 to {@code stat} and
     * only the device knows its size. Skipped where loop devices cannot be attached (not root).
     */
    @Test
    void twoProcessesShareBlocksThroughOneBlockDevice() throws Exception {
        Path backing = sized("loop.img", SHARED_BYTES);
        ProcessResult attach = run("losetup", "--find", "--show", backing.toString());
        assumeTrue(attach.exitCode() == 0 && attach.output().startsWith("/dev/"),
                "no loop device could be attached: " + attach.output());
        Path device = Path.of(attach.output().trim());
        try {
            assertTrue(!java.nio.file.Files.isRegularFile(device), device + " is a device, not a file");
            storeThenLoadInAnotherProcess(device.toUri().toString(), 3, "the block device");
        } finally {
            run("losetup", "--detach", device.toString());
        }
    }

    /**
     * One child process stores every chain of the workload into {@code uri}'s shared tier (seed
     * {@code seed}); a second one (seed {@code seed + 1}) then loads nearly all of them from it.
     */
    private static void storeThenLoadInAnotherProcess(String uri, long seed, String where) throws Exception {
        String stored = child(uri, SHARED_BYTES, "store", seed);
        Matcher written = Pattern.compile("STORED remote=(\\d+)").matcher(stored);
        assertTrue(written.find() && Long.parseLong(written.group(1)) > 0, stored);
        String found = child(uri, SHARED_BYTES, "verify", seed + 1);
        Matcher hits = Pattern.compile("FOUND hits=(\\d+) remote=(\\d+) of=(\\d+)").matcher(found);
        assertTrue(hits.find(), found);
        assertTrue(Long.parseLong(hits.group(1)) >= Long.parseLong(hits.group(3)) * 9 / 10,
                "the second process loads (nearly) every block the first stored: " + found);
        assertTrue(Long.parseLong(hits.group(2)) > 0, "loaded from " + where + ": " + found);
    }

    private record ProcessResult(int exitCode, String output) {
    }

    private static ProcessResult run(String... command) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            return new ProcessResult(-1, e.toString());
        }
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        return new ProcessResult(p.waitFor(), out);
    }

    @Test
    void processesRacingForFewSlotsOfOneFileNeverServeAWrongByte() throws Exception {
        long tiny = 64L * (RemoteWorker.BLOCK + 4096) + 8192;
        long loadedRemote = RemoteTierTest.race(sized("tiny.img", tiny).toUri().toString(), tiny, 3, 200, 1000);
        assertTrue(loadedRemote > 0, "the racing processes did serve blocks from the shared file");
    }

    @Test
    void aFileHeldAsALocalTierOrMissingIsRefused() throws Exception {
        Path file = sized("local.img", SHARED_BYTES);
        try (KvTierCache local = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(RemoteWorker.BLOCK)
                .dramCapacityBytes(16L * RemoteWorker.BLOCK).localSsd(file, SHARED_BYTES).ssdDirectIo(true).build()) {
            DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                    () -> RemoteWorker.builder(RemoteWorker.remote(file.toUri(), SHARED_BYTES)).build());
            assertEquals(Tier.REMOTE, e.tier());
            assertTrue(e.getMessage().contains("local tier"), e.getMessage());
        }
        DeviceUnavailableException missing = assertThrows(DeviceUnavailableException.class,
                () -> RemoteWorker.builder(RemoteWorker.remote(dir.resolve("absent.img").toUri(), SHARED_BYTES)).build());
        assertTrue(missing.getMessage().contains("must exist"), missing.getMessage());
    }

    private Path sized(String name, long bytes) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return p;
    }

    private static String child(String uri, long bytes, String mode, long seed) throws Exception {
        ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), RemoteWorker.class, uri, Long.toString(bytes), mode,
                Long.toString(seed), "0");
        assertEquals(0, r.exitCode(), r.output());
        return r.output();
    }
}
