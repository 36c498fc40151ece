package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Files that are not regular files, for the tests that a device refuses them, and a leak check. */
public final class OddFiles {
    private OddFiles() {
    }

    /** Makes a FIFO at {@code path}; the test is skipped where there is no {@code mkfifo}. */
    public static Path mkfifo(Path path) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
        } catch (IOException noMkfifo) {
            assumeTrue(false, "mkfifo is not available: " + noMkfifo);
            throw noMkfifo;
        }
        assertEquals(0, p.waitFor(), "mkfifo " + path);
        return path;
    }

    /** How many of this process's file descriptors are open on {@code path}. */
    public static long descriptorsOn(Path path) throws IOException {
        Path real = path.toRealPath();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(real);
                } catch (IOException closed) {
                    return false;
                }
            }).count();
        }
    }
}
