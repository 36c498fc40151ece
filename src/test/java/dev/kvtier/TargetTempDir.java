package dev.kvtier;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Puts a {@code @TempDir} under {@code target/} instead of {@code /tmp}: /tmp may be a tmpfs,
 * which older kernels do not let open with O_DIRECT, and which turns sparse files dense as
 * soon as they are read through a mapping. Use as {@code @TempDir(factory = TargetTempDir.class)}.
 */
public final class TargetTempDir implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws Exception {
        Path root = Path.of("target", "test-tmp").toAbsolutePath();
        Files.createDirectories(root);
        return Files.createTempDirectory(root, "kvtier-");
    }
}
