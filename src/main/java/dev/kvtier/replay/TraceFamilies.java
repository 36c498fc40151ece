package dev.kvtier.replay;

import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The trace families of a traces folder ({@code ../shared/traces}, see its README) and the
 * capacities each is judged at, for {@code kvtier replay} without {@code --trace}.
 *
 * <p><b>Families.</b> Each sub-folder but {@code reference} is one family: its single trace
 * file, or, when it holds several (kv-cache-tester's sessions), the folder itself (one namespace
 * per file). Sub-folders in name order; one without trace files is left out.
 *
 * <p><b>Capacities</b> (DRAM blocks, SSD blocks), by the family's format: Mooncake (512-token
 * blocks) at 1,000 to 20,000 DRAM blocks (0.5M to 10M tokens, Figure 9's range) and at 500 DRAM +
 * 3,000 SSD blocks; kv-cache-tester (64-token blocks, requests of about 1,500 blocks) at 1,000,
 * 5,000 and 20,000 DRAM blocks and 500 + 3,000 SSD blocks. These are the README's tables.
 */
public final class TraceFamilies {
    /** One family: its name (the sub-folder's), what {@link Trace#read} reads, its format and its capacities. */
    public record Family(String name, Path path, TraceFormat format, List<long[]> capacities) {
    }

    private static final List<long[]> MOONCAKE = List.of(new long[] {1000, 0}, new long[] {2000, 0},
            new long[] {5859, 0}, new long[] {7812, 0}, new long[] {10000, 0}, new long[] {20000, 0},
            new long[] {500, 3000});
    private static final List<long[]> KV_CACHE_TESTER = List.of(new long[] {1000, 0}, new long[] {5000, 0},
            new long[] {20000, 0}, new long[] {500, 3000});

    private TraceFamilies() {
    }

    /** The families under {@code dir}, in name order; empty when it holds none. */
    public static List<Family> find(Path dir) throws IOException {
        List<Family> families = new ArrayList<>();
        for (Path sub : list(dir)) {
            if (!Files.isDirectory(sub) || sub.getFileName().toString().equals("reference")) {
                continue;
            }
            List<Path> files = list(sub).stream().filter(TraceFamilies::isTrace).toList();
            if (files.isEmpty()) {
                continue;
            }
            Path path = files.size() == 1 ? files.get(0) : sub;
            TraceFormat format = Trace.detect(files.get(0));
            families.add(new Family(sub.getFileName().toString(), path, format, capacities(format)));
        }
        return families;
    }

    /** The (DRAM, SSD) capacities in blocks a family of {@code format} is replayed at. */
    public static List<long[]> capacities(TraceFormat format) {
        return format == TraceFormat.MOONCAKE ? MOONCAKE : KV_CACHE_TESTER;
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    private static boolean isTrace(Path p) {
        String n = p.getFileName().toString();
        return Files.isRegularFile(p) && (n.endsWith(".json") || n.endsWith(".jsonl"));
    }
}
