package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.SsdFixtures.SlotFile;
import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kvtier's JFR events, recorded for real: a recording enables them by name; a cache with an SSD
 * tier stores a chain and flushes it down (Store, Demotion), is reopened (Recovery), loads the
 * chain with its last block corrupted on the file (Load, DeviceError) and promotes the rest
 * back into DRAM (Promotion), then loads it from DRAM. The events read back from the dumped
 * file must add up to both caches' {@code stats()}.
 */
class JfrEventsTest {
    private static final int BLOCK = 8192;
    private static final int BLOCKS = 6;
    private static final String[] EVENTS = {"Load", "Store", "Demotion", "Promotion", "Recovery", "DeviceError"};

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void eventsAddUpToStats() throws Exception {
        BlockKey[] keys = SsdFixtures.namespace("jfr").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6});
        Path file = dir.resolve("jfr.slots");
        CacheStats first;
        CacheStats second;
        List<RecordedEvent> events;
        try (Recording recording = new Recording()) {
            for (String e : EVENTS) {
                recording.enable("dev.kvtier." + e).withThreshold(Duration.ZERO);
            }
            recording.start();
            first = storeAndFlush(file, keys);
            SlotFile slots = new SlotFile(file);
            SsdFixtures.flipByte(file, slots.layout.payloadOffset(slots.slotOf(keys[BLOCKS - 1])) + 10, 0xFF);
            second = reopenAndLoad(file, keys);
            recording.stop();
            Path dump = dir.resolve("kvtier.jfr");
            recording.dump(dump);
            events = RecordingFile.readAllEvents(dump);
        }

        List<RecordedEvent> stores = of(events, "Store", e -> true);
        assertEquals(first.storeCalls() + second.storeCalls(), stores.size());
        assertEquals(first.storedBlocks(Tier.DRAM), stores.stream().mapToLong(e -> e.getInt("stored")).sum());

        List<RecordedEvent> demotions = of(events, "Demotion", e -> "ok".equals(e.getString("outcome")));
        assertEquals(BLOCKS, demotions.size());
        assertEquals(first.storedBlocks(Tier.SSD), demotions.size());
        assertEquals(first.storedBytes(Tier.SSD), demotions.stream().mapToLong(e -> e.getLong("bytes")).sum());
        assertTrue(demotions.stream().allMatch(e -> "ssd".equals(e.getString("tier")) && e.getLong("elapsed") > 0));

        List<RecordedEvent> recoveries = of(events, "Recovery", e -> true);
        assertEquals(1, recoveries.size());
        assertEquals("ssd", recoveries.get(0).getString("tier"));
        assertEquals(second.recoveredBlocks(Tier.SSD), recoveries.get(0).getInt("blocks"));
        assertEquals(BLOCKS, second.recoveredBlocks(Tier.SSD));

        List<RecordedEvent> loads = of(events, "Load", e -> true);
        assertEquals(second.loadCalls(), loads.size());
        assertEquals(second.loadedBlocks(), loads.stream().mapToLong(e -> e.getInt("delivered")).sum());
        assertEquals(second.loadedBytes(), loads.stream().mapToLong(e -> e.getLong("bytes")).sum());
        RecordedEvent corrupt = loads.get(0);
        assertEquals("ssd", corrupt.getString("tier"));
        assertEquals("corrupt", corrupt.getString("outcome"));
        assertEquals(BLOCKS, corrupt.getInt("blocks"));
        assertEquals(BLOCKS - 1, corrupt.getInt("delivered"));
        assertTrue(corrupt.getLong("elapsed") > 0);
        assertEquals("dram", loads.get(1).getString("tier"));
        assertEquals("ok", loads.get(1).getString("outcome"));

        List<RecordedEvent> errors = of(events, "DeviceError", e -> e.getString("device").contains(file.toString()));
        assertEquals(second.corruptBlocks(Tier.SSD), errors.size());
        assertEquals(1, errors.size());
        assertEquals("corrupt", errors.get(0).getString("outcome"));
        assertEquals("read", errors.get(0).getString("operation"));

        List<RecordedEvent> promotions = of(events, "Promotion", e -> "ok".equals(e.getString("outcome")));
        assertEquals(second.promotedBlocks(Tier.SSD), promotions.stream().mapToLong(e -> e.getInt("blocks")).sum());
        assertEquals(BLOCKS - 1, second.promotedBlocks(Tier.SSD));
    }

    @Test
    void eventsAreOffUnlessARecordingEnablesThem() throws Exception {
        BlockKey[] keys = SsdFixtures.namespace("jfr-off").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6});
        Path file = dir.resolve("off.slots");
        List<RecordedEvent> events;
        try (Recording recording = new Recording()) { // no settings: every event at its default
            recording.start();
            storeAndFlush(file, keys);
            recording.stop();
            Path dump = dir.resolve("off.jfr");
            recording.dump(dump);
            events = RecordingFile.readAllEvents(dump);
        }
        assertEquals(List.of(), events.stream().map(e -> e.getEventType().getName())
                .filter(n -> n.startsWith("dev.kvtier.")).toList());
    }

    /** Stores the chain into a fresh SSD-backed cache and flushes it to the SSD; the closed cache's stats. */
    private static CacheStats storeAndFlush(Path file, BlockKey[] keys) {
        KvTierCache cache = SsdFixtures.builder(file, BLOCK, 2 * BLOCKS, 4 * BLOCKS, false, Compression.NONE).build();
        try (cache) {
            ByteBuffer[] src = new ByteBuffer[BLOCKS];
            for (int i = 0; i < BLOCKS; i++) {
                src[i] = SsdFixtures.payload(keys[i], BLOCK);
            }
            assertEquals(BLOCKS, cache.store(keys, src));
            assertEquals(BLOCKS, cache.flush(Duration.ofSeconds(30)));
        }
        return cache.stats();
    }

    /** Reopens the file: loads the chain from the SSD (its last block corrupt), then from DRAM. */
    private static CacheStats reopenAndLoad(Path file, BlockKey[] keys) {
        KvTierCache cache = SsdFixtures.builder(file, BLOCK, 2 * BLOCKS, 4 * BLOCKS, false, Compression.NONE).build();
        try (cache) {
            assertEquals(BLOCKS, cache.match(keys).hitBlocks(Tier.SSD));
            assertEquals(BLOCKS - 1, cache.load(cache.match(keys), buffers()).join());
            cache.awaitIdle();
            PrefixMatch again = cache.match(keys);
            assertEquals(BLOCKS - 1, again.hitBlocks(Tier.DRAM), cache.stats().toString());
            assertEquals(BLOCKS - 1, cache.load(again, buffers()).join());
        }
        return cache.stats();
    }

    private static ByteBuffer[] buffers() {
        ByteBuffer[] b = new ByteBuffer[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            b[i] = ByteBuffer.allocateDirect(BLOCK);
        }
        return b;
    }

    /** The events {@code dev.kvtier.NAME} that pass {@code which}, in the order committed (a file has them by thread). */
    private static List<RecordedEvent> of(List<RecordedEvent> events, String name, Predicate<RecordedEvent> which) {
        return events.stream().filter(e -> e.getEventType().getName().equals("dev.kvtier." + name)).filter(which)
                .sorted(Comparator.comparing(RecordedEvent::getStartTime)).toList();
    }
}
