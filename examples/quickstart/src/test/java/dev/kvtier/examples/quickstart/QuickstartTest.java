package dev.kvtier.examples.quickstart;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quickstart runs through: it throws on anything wrong. */
class QuickstartTest {
    @Test
    void runs(@TempDir Path dir) {
        Quickstart.run(dir.resolve("kvtier.slots"));
    }
}
