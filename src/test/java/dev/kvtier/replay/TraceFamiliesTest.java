package dev.kvtier.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvtier.trace.TraceFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A traces folder laid out as ../shared/traces: which families replay finds, what it reads of each, at which capacities. */
class TraceFamiliesTest {
    private static final String MOONCAKE = "{\"timestamp\": 0, \"input_length\": 1024, \"hash_ids\": [1, 2]}\n";
    private static final String KV = "{\"requests\": [{\"t\": 0, \"type\": \"n\", \"in\": 128, \"hash_ids\": [1, 2]}]}";

    @TempDir
    Path dir;

    @Test
    void aSingleFileIsItsFamilysTraceSeveralFilesTheirFolder() throws IOException {
        write("mooncake/conversation_trace.jsonl", MOONCAKE);
        write("mooncake/LICENSE", "licence");
        write("kv-cache-tester/trace_0001.json", KV);
        write("kv-cache-tester/trace_0002.json", KV);
        write("reference/mooncake_fast25_fig9_digitized.csv", "tokens,hit_rate\n");
        Files.createDirectories(dir.resolve("empty"));
        write("README.md", "readme");

        List<TraceFamilies.Family> found = TraceFamilies.find(dir);

        assertEquals(2, found.size(), "reference, an empty folder and loose files are no families");
        TraceFamilies.Family kv = found.get(0);
        assertEquals("kv-cache-tester", kv.name());
        assertEquals(dir.resolve("kv-cache-tester"), kv.path());
        assertEquals(TraceFormat.KV_CACHE_TESTER, kv.format());
        assertArrayEquals(new long[] {500, 3000}, kv.capacities().get(kv.capacities().size() - 1));
        TraceFamilies.Family mooncake = found.get(1);
        assertEquals(dir.resolve("mooncake/conversation_trace.jsonl"), mooncake.path());
        assertEquals(TraceFormat.MOONCAKE, mooncake.format());
        assertEquals(7, mooncake.capacities().size());
    }

    private void write(String path, String text) throws IOException {
        Path p = dir.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }
}
