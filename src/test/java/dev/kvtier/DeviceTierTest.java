package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.index.BlockIndex;
import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tier identity is one numbering, and a device tier does only what its placement allows. */
class DeviceTierTest {
    static final int BLOCK = 4096;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void theIndexTheMetricsAndTheApiNumberTiersAlike() {
        assertEquals(Tier.values().length, BlockIndex.TIERS);
        assertEquals(Tier.values().length, CacheMetrics.TIERS);
        assertEquals(Tier.DRAM.ordinal(), BlockTable.DRAM);
        assertEquals(Tier.SSD.ordinal(), BlockTable.SSD);
        assertEquals(Tier.REMOTE.ordinal(), BlockTable.REMOTE);
    }

    @Test
    void aTierRefusesTheOperationsOfTheOtherPlacement() throws Exception {
        SlotTier sharedSlots = slots("shared");
        try (DeviceTier local = local(Tier.SSD, "local");
                DeviceTier shared = DeviceTier.shared(Tier.REMOTE, new SharedSlotTier(sharedSlots, 4), io(sharedSlots))) {
            assertEquals(DeviceTier.Placement.LOCAL, local.placement());
            assertEquals(DeviceTier.Placement.SHARED, shared.placement());
            assertTrue(assertThrows(IllegalStateException.class, () -> local.setOf(1, 2)).getMessage()
                    .contains("SSD is local"));
            assertTrue(assertThrows(IllegalStateException.class, shared::allocate).getMessage()
                    .contains("REMOTE is shared"));
            assertTrue(local.allocate() >= 0);
            assertTrue(shared.setOf(1, 2) < shared.sets());
        }
    }

    @Test
    void theBlockTableTakesOneTierOfEachKindAndFindsItById() throws Exception {
        try (DramTier dram = new DramTier(4L * BLOCK, BLOCK);
                DeviceTier ssd = local(Tier.SSD, "a");
                DeviceTier other = local(Tier.SSD, "b");
                DeviceTier remoteAsLocal = local(Tier.REMOTE, "c")) {
            BlockTable t = new BlockTable(dram, new DeviceTier[] {ssd}, new CacheMetrics(), 0.125, policy());
            assertSame(ssd, t.device(BlockTable.SSD));
            assertEquals(null, t.device(BlockTable.REMOTE));
            assertThrows(IllegalArgumentException.class, () -> new BlockTable(dram, new DeviceTier[] {ssd, other},
                    new CacheMetrics(), 0.125, policy()));
            assertThrows(IllegalArgumentException.class, () -> new BlockTable(dram,
                    new DeviceTier[] {remoteAsLocal}, new CacheMetrics(), 0.125, policy()));
        }
        assertThrows(IllegalArgumentException.class, () -> local(Tier.DRAM, "d"));
    }

    private SlotTier slots(String name) throws Exception {
        return slots(dir.resolve(name));
    }

    /** A 16-slot tier of {@value #BLOCK}-byte blocks in file {@code path}, created if absent. */
    static SlotTier slots(Path path) throws Exception {
        return SlotTier.open(BufferedFileDevice.open(path, SsdFixtures.ssdBytes(16, BLOCK, false), true),
                SsdFixtures.TOKENS, BLOCK, null, true);
    }

    private DeviceTier local(Tier tier, String name) throws Exception {
        SlotTier s = slots(name);
        return DeviceTier.local(tier, s, io(s));
    }

    static IoEngine io(SlotTier s) {
        return new IoEngine(s.device(), 1, 4, 4, 1_000);
    }

    static CacheConfig.Policy policy() {
        return new CacheConfig.Policy(CachePolicy.LRU, null, new double[3], System::nanoTime, null, SsdFixtures.TOKENS);
    }
}
