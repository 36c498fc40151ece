package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Micrometer is optional: a JVM whose class path lacks it (and Prometheus' client) builds a
 * cache with an SSD tier, stores, flushes, reopens and loads ({@link WithoutMicrometerWorker}).
 */
class WithoutMicrometerTest {
    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void aCacheRunsWithoutMicrometerOnTheClassPath() throws Exception {
        String[] all = System.getProperty("java.class.path").split(File.pathSeparator);
        String without = Arrays.stream(all).filter(e -> !e.contains("micrometer") && !e.contains("prometheus"))
                .collect(Collectors.joining(File.pathSeparator));
        assertTrue(without.length() < String.join(File.pathSeparator, all).length(), "Micrometer was on the class path");
        ChildJvm.Result r = ChildJvm.run(ChildJvm.cacheFlags(), without, WithoutMicrometerWorker.class,
                dir.resolve("ssd.slots").toString());
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("loaded 4 of 4; no Micrometer"), r.output());
        assertFalse(r.output().contains("NoClassDefFoundError"), r.output());
    }
}
