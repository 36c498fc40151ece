package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
        String uri = sized("shared.img", SHARED_BYTES).toUri().toString();
        String stored = child(uri, SHARED_BYTES, "store", 1);
        Matcher written = Pattern.compile("STORED remote=(\\d+)").matcher(stored);
        assertTrue(written.find() && Long.parseLong(written.group(1)) > 0, stored);
        String found = child(uri, SHARED_BYTES, "verify", 2);
        Matcher hits = Pattern.compile("FOUND hits=(\\d+) remote=(\\d+) of=(\\d+)").matcher(found);
        assertTrue(hits.find(), found);
        assertTrue(Long.parseLong(hits.group(1)) >= Long.parseLong(hits.group(3)) * 9 / 10,
                "the second process loads (nearly) every block the first stored: " + found);
        assertTrue(Long.parseLong(hits.group(2)) > 0, "loaded from the shared file: " + found);
    }

    @Test
    void processesRacingForFewSlotsOfOneFileNeverServeAWrongByte() throws Exception {
        long tiny = 64L * (RemoteWorker.BLOCK + 4096) + 8192;
        String uri = sized("tiny.img", tiny).toUri().toString();
        List<Process> workers = new ArrayList<>();
        List<CompletableFuture<String>> outputs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Process p = ChildJvm.start(ChildJvm.cacheFlags(), RemoteWorker.class, uri, Long.toString(tiny), "race",
                    Long.toString(200 + i), "1000");
            workers.add(p);
            outputs.add(CompletableFuture.supplyAsync(() -> RemoteTierTest.drain(p)));
        }
        long loadedRemote = 0;
        for (int i = 0; i < workers.size(); i++) {
            Process p = workers.get(i);
            boolean exited = p.waitFor(120, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
            }
            String out = outputs.get(i).get(10, TimeUnit.SECONDS);
            assertTrue(exited, "worker " + i + " did not finish: " + out);
            assertEquals(0, p.exitValue(), out); // 3: a wrong byte served
            Matcher m = Pattern.compile("loadedRemote=(\\d+)").matcher(out);
            assertTrue(m.find(), out);
            loadedRemote += Long.parseLong(m.group(1));
        }
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
