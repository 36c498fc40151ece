package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An SSD file far larger than the filesystem under it (a small tmpfs mounted for the test):
 * once the filesystem is full, demotions fail and are counted, no error reaches the caller or
 * kills the demoter, and the cache keeps serving what it holds with exact bytes. Each case runs
 * in a child JVM ({@link DiskFullWorker}), since a write into a mapped sparse file on a full
 * filesystem is a SIGBUS. Needs root to mount; skipped otherwise.
 */
class DiskFullTest {
    private static final long FILE_BYTES = 64L << 20;
    private static final int PROMPTS = 60;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void aMappedFileOnAFullFilesystemOpensAndFailsItsDemotions() throws Exception {
        // 2 MiB: not even one page per slot header fits, so the header scan at open must not need them
        expectDemotionsFailAndServingGoesOn("2m", "mapped");
    }

    @Test
    void mappedWritesThatFaultAreFailedDemotionsNotErrors() throws Exception {
        // 6 MiB: the slot headers fit, about thirty 64 KiB payloads do too, then writes fault
        expectDemotionsFailAndServingGoesOn("6m", "mapped");
    }

    @Test
    void anODirectFileOnAFullFilesystemFailsItsDemotionsWithEnospc() throws Exception {
        expectDemotionsFailAndServingGoesOn("2m", "direct");
    }

    private void expectDemotionsFailAndServingGoesOn(String tmpfsSize, String mode) throws Exception {
        Path mnt = dir.resolve("tmpfs");
        java.nio.file.Files.createDirectories(mnt);
        String mounted = exec("mount", "-t", "tmpfs", "-o", "size=" + tmpfsSize, "tmpfs", mnt.toString());
        Assumptions.assumeTrue(mounted == null, () -> "cannot mount a tmpfs (needs root): " + mounted);
        try {
            ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), DiskFullWorker.class,
                    mnt.resolve("kv.slots").toString(), String.valueOf(FILE_BYTES), mode, String.valueOf(PROMPTS));
            String out = r.output();
            assertEquals(0, r.exitCode(), "the JVM survived: " + out);
            assertFalse(out.contains("BUILD-FAILED"), "the cache opens on a sparse file of a full filesystem: " + out);
            assertFalse(out.contains("ESCAPED"), "an error reached the caller: " + out);
            assertFalse(out.contains("FAIL "), out);
            assertFalse(out.contains("Exception in thread"), "a thread died: " + out);
            Matcher m = Pattern.compile("DONE .*demoteFailed=(\\d+) ").matcher(out);
            assertTrue(m.find(), out);
            assertTrue(Long.parseLong(m.group(1)) > 0, "demotions failed and were counted: " + out);
        } finally {
            exec("umount", "-l", mnt.toString());
        }
    }

    /** Runs a command; null when it succeeded, else its output. */
    private static String exec(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? null : out;
    }
}
