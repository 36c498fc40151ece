package dev.kvtier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.CacheStats;
import dev.kvtier.KvTierCache;
import dev.kvtier.PrefixMatch;
import dev.kvtier.TargetTempDir;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's Prometheus endpoint, scraped over real HTTP: a cache with an SSD tier stores more
 * chains than its DRAM holds (so blocks are demoted), flushes, and loads every chain back (hits
 * in DRAM and on the SSD); the figures served at {@code /metrics} must be those of
 * {@code stats()}, under Prometheus' names.
 */
class MetricsEndpointTest {
    private static final int BLOCK = 4096;
    private static final int CHAINS = 4;
    private static final int LENGTH = 4;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void scrapeShowsTheFiguresOfStats() throws Exception {
        Namespace ns = Namespace.builder("metrics").blockTokens(16).build();
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(BLOCK).dramCapacityBytes(8L * BLOCK)
                .localSsd(dir.resolve("ssd.slots"), 1 << 20).build();
                MetricsEndpoint endpoint = MetricsEndpoint.start(cache, 0)) {
            BlockKey[][] chains = new BlockKey[CHAINS][];
            ByteBuffer[] buffers = new ByteBuffer[LENGTH];
            for (int i = 0; i < LENGTH; i++) {
                buffers[i] = ByteBuffer.allocateDirect(BLOCK);
            }
            for (int c = 0; c < CHAINS; c++) {
                chains[c] = ns.keysFromHashes(new long[] {c * 10L + 1, c * 10L + 2, c * 10L + 3, c * 10L + 4});
                cache.store(chains[c], buffers);
                cache.awaitIdle();
            }
            cache.flush(Duration.ofSeconds(30));
            for (int c = CHAINS - 1; c >= 0; c--) { // the last stored first: in DRAM still
                PrefixMatch m = cache.match(chains[c]);
                assertEquals(LENGTH, cache.load(m, buffers).join());
            }
            cache.awaitIdle();
            CacheStats s = cache.stats();
            assertTrue(s.hitBlocks(Tier.SSD) > 0 && s.hitBlocks(Tier.DRAM) > 0, s.toString());

            HttpClient http = HttpClient.newHttpClient();
            URI uri = URI.create("http://127.0.0.1:" + endpoint.port() + MetricsEndpoint.PATH);
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            Map<String, Double> m = samples(r.body());

            assertEquals(s.storedBlocks(Tier.DRAM), m.get("kvtier_stored_blocks_total{tier=\"dram\"}"), r.body());
            assertEquals(s.storedBlocks(Tier.SSD), m.get("kvtier_demoted_blocks_total{tier=\"ssd\"}"));
            assertEquals(s.storedBytes(Tier.SSD), m.get("kvtier_demoted_bytes_total{tier=\"ssd\"}"));
            for (Tier t : new Tier[] {Tier.DRAM, Tier.SSD}) {
                String tier = "{tier=\"" + t.name().toLowerCase() + "\"}";
                assertEquals(s.hitBlocks(t), m.get("kvtier_hit_blocks_total" + tier), t.name());
                assertEquals(s.loadedBlocks(t), m.get("kvtier_loaded_blocks_total" + tier), t.name());
                assertEquals(s.residentBlocks(t), m.get("kvtier_resident_blocks" + tier), t.name());
                assertEquals(s.capacityBlocks(t), m.get("kvtier_capacity_blocks" + tier), t.name());
            }
            assertEquals(s.evictedBlocks(Tier.DRAM), m.get("kvtier_evicted_blocks_total{tier=\"dram\"}"));
            assertEquals(s.lookupBlocks(), m.get("kvtier_lookup_blocks_total"));
            assertEquals(s.missBlocks(), m.get("kvtier_miss_blocks_total"));
            assertEquals(s.activePins(), m.get("kvtier_pins_active"));
            assertEquals(s.matchCalls(), m.get("kvtier_match_seconds_count"));
            assertEquals(s.loadCalls(), m.get("kvtier_load_seconds_count"));
            assertEquals(s.storeCalls(), m.get("kvtier_store_seconds_count"));
            assertTrue(m.get("kvtier_load_seconds{quantile=\"0.99\"}") > 0, r.body());
            assertEquals(s.ssdRecoveryMillis() / 1000.0, m.get("kvtier_recovery_time_seconds{tier=\"ssd\"}"));
            assertEquals(0.0, m.get("kvtier_io_queue_depth{kind=\"write\",tier=\"ssd\"}"));
            assertEquals(null, m.get("kvtier_hit_blocks_total{tier=\"remote\"}"), "no meters for an absent tier");

            HttpResponse<String> other = http.send(HttpRequest.newBuilder(uri.resolve("/other")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(404, other.statusCode());
        }
    }

    /** Samples of a Prometheus text exposition: "name{labels}" to value. */
    private static Map<String, Double> samples(String text) {
        Map<String, Double> out = new HashMap<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int space = line.lastIndexOf(' ');
                out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return out;
    }
}
