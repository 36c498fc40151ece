package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.format.SlotHeader;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which slot of a full shared set a write takes ({@link BlockTable#claimRemoteSlotFor}), given
 * the set's slots ranked oldest first: the oldest block this process may replace, even a parent
 * (a set full of parents must not make the newest leaf the one to go); a descendant of that
 * parent in the same set instead, which loses less; and a slot this process wrote after the
 * ranking was read ranks last, since the ranking still shows the block it replaced.
 */
class RemoteSlotChoiceTest {
    private static final int BLOCK = DeviceTierTest.BLOCK;
    private static final Namespace NS = Namespace.builder("slot-choice").blockTokens(SsdFixtures.TOKENS).build();

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void theOldestBlockGoesEvenWhenItIsAParent() throws Exception {
        try (Table t = new Table(dir)) {
            BlockKey[] old = NS.keysFromHashes(new long[] {1, 2});
            BlockKey[] fresh = NS.keysFromHashes(new long[] {3});
            t.discovered(old, 0, 5); // the parent in this set, its child in another
            t.discovered(fresh, 1);
            int writer = SubtreeDropTest.store(t.table, NS.keysFromHashes(new long[] {4}))[0];
            assertEquals(0, t.table.claimRemoteSlotFor(writer, new int[] {0, 1}, t.table.remoteWrites()));
        }
    }

    @Test
    void aParentsDescendantInTheSetGoesInsteadOfIt() throws Exception {
        try (Table t = new Table(dir)) {
            t.discovered(NS.keysFromHashes(new long[] {1, 2, 3}), 0, 5, 1);
            int writer = SubtreeDropTest.store(t.table, NS.keysFromHashes(new long[] {4}))[0];
            assertEquals(1, t.table.claimRemoteSlotFor(writer, new int[] {0, 1}, t.table.remoteWrites()),
                    "the leaf under the oldest block, not the block and its two descendants");
        }
    }

    @Test
    void aSlotWrittenAfterTheRankingWasReadRanksLast() throws Exception {
        try (Table t = new Table(dir)) {
            BlockKey[] written = NS.keysFromHashes(new long[] {1});
            int x = SubtreeDropTest.store(t.table, written)[0];
            int rankedAt = t.table.remoteWrites();
            t.demote(x, 0);
            for (long h = 10; h < 14; h++) { // the DRAM copy of x is pushed out: x is remote-only
                SubtreeDropTest.store(t.table, NS.keysFromHashes(new long[] {h}));
            }
            PrefixMatch m = new PrefixMatch();
            m.reset(written);
            t.table.matchPrefix(written, m, new int[1]);
            assertEquals(Tier.REMOTE, m.tier(0), "x is only on the remote tier now");
            int writer = SubtreeDropTest.store(t.table, NS.keysFromHashes(new long[] {20}))[0];
            assertEquals(1, t.table.claimRemoteSlotFor(writer, new int[] {0, 1}, rankedAt),
                    "slot 0 was written after the ranking, which showed it empty");
            assertEquals(0, t.table.claimRemoteSlotFor(writer, new int[] {0, 2}, t.table.remoteWrites()),
                    "ranked after the write, slot 0 is the oldest");
            t.table.checkInvariants();
        }
    }

    /** A block table over 4 DRAM pages and a shared tier of 16 slots in sets of 4. */
    private static final class Table implements AutoCloseable {
        final DramTier dram = new DramTier(4L * BLOCK, BLOCK);
        final DeviceTier remote;
        final BlockTable table;

        Table(Path dir) throws Exception {
            SlotTier slots = DeviceTierTest.slots(dir.resolve("shared"));
            remote = DeviceTier.shared(Tier.REMOTE, new SharedSlotTier(slots, 4), DeviceTierTest.io(slots));
            table = new BlockTable(dram, new DeviceTier[] {remote}, new CacheMetrics(), 0.125, DeviceTierTest.policy());
        }

        /** Enters {@code chain} as found in remote {@code slots}, block i in slot i. */
        void discovered(BlockKey[] chain, int... slots) {
            long[] epochs = new long[slots.length];
            java.util.Arrays.fill(epochs, 1);
            assertEquals(chain.length, table.enterDiscovered(chain, 0, slots, epochs));
        }

        /** Writes {@code e} (a DRAM block) to remote {@code slot}, as the demoter does. */
        void demote(int e, int slot) {
            SlotHeader header = new SlotHeader();
            int[] source = new int[3];
            assertEquals(e, table.beginNextDemotion(BlockTable.DemotionKind.FLUSH, BlockTable.REMOTE, 0, new int[0], 0,
                    header, source));
            assertTrue(table.claimRemoteSlot(slot));
            assertTrue(table.completeDemotion(e, BlockTable.REMOTE, slot, null, false, header));
        }

        @Override
        public void close() throws Exception {
            remote.close();
            dram.close();
        }
    }
}
