package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import dev.kvtier.tier.SharedSlotTier;
import dev.kvtier.tier.SlotTier;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The remote tier sharded over several exports: blocks spread over every export by key, another
 * cache listing the exports in another order finds them all, an export that dies costs its own
 * blocks only and never holds a caller past the timeout, and adding an export moves only its
 * share of the keys.
 */
class ShardedRemoteTest {
    private static final int EXPORTS = 4;
    /** About 75 slots per export: the 96 blocks stored do not fit in one export. */
    private static final long EXPORT_BYTES = 60L * (RemoteWorker.BLOCK + 4096);
    private static final int CHAINS = 24;
    private static final int CHAIN = 4;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void blocksSpreadOverEveryExportAndAnotherCacheFindsThemInAnyOrder() throws Exception {
        List<NbdServer> servers = start();
        try {
            List<URI> uris = uris(servers);
            List<BlockKey[]> chains = chains("sharded");
            try (KvTierCache a = RemoteWorker.builder(RemoteWorker.remote(uris, EXPORT_BYTES)).build()) {
                for (BlockKey[] keys : chains) {
                    assertEquals(CHAIN, a.store(keys, RemoteTierTest.filled(keys)));
                    a.awaitIdle();
                }
                assertEquals(CHAINS * CHAIN, a.stats().storedBlocks(Tier.REMOTE), a.stats().toString());
            }
            List<URI> reversed = new ArrayList<>(uris);
            Collections.reverse(reversed);
            try (KvTierCache b = RemoteWorker.builder(RemoteWorker.remote(reversed, EXPORT_BYTES)).build()) {
                int found = 0;
                for (BlockKey[] keys : chains) {
                    PrefixMatch m = b.match(keys);
                    ByteBuffer[] dst = RemoteTierTest.empty(m.hitBlocks());
                    assertEquals(m.hitBlocks(), b.load(m, dst).join());
                    for (int i = 0; i < m.hitBlocks(); i++) {
                        assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
                    }
                    found += m.hitBlocks();
                }
                assertTrue(found >= CHAINS * CHAIN * 9 / 10, "found " + found + " of " + CHAINS * CHAIN
                        + " (a set may have pushed out a few): " + b.stats());
            }
            for (NbdServer s : servers) { // so the blocks found were spread over several exports
                try (KvTierCache single = RemoteWorker.builder(s.uri(), EXPORT_BYTES).build()) {
                    assertTrue(single.stats().capacityBlocks(Tier.REMOTE) < CHAINS * CHAIN * 9 / 10);
                }
            }
        } finally {
            servers.forEach(NbdServer::close);
        }
    }

    @Test
    void anExportThatDiesCostsItsOwnBlocksOnly() throws Exception {
        List<NbdServer> servers = start();
        try {
            List<URI> uris = uris(servers);
            List<BlockKey[]> chains = chains("dies");
            try (KvTierCache a = RemoteWorker.builder(RemoteWorker.remote(uris, EXPORT_BYTES)
                    .timeout(Duration.ofSeconds(1))).build()) {
                for (BlockKey[] keys : chains) {
                    a.store(keys, RemoteTierTest.filled(keys));
                    a.awaitIdle();
                }
            }
            try (KvTierCache b = RemoteWorker.builder(RemoteWorker.remote(uris, EXPORT_BYTES)
                    .timeout(Duration.ofSeconds(1))).build()) {
                int loaded = 0;
                long slowest = 0;
                for (int c = 0; c < chains.size(); c++) {
                    BlockKey[] keys = chains.get(c);
                    long t0 = System.nanoTime();
                    PrefixMatch m = b.match(keys);
                    ByteBuffer[] dst = RemoteTierTest.empty(m.hitBlocks());
                    CompletableFuture<Integer> load = b.load(m, dst);
                    if (c == chains.size() / 2) {
                        servers.get(1).kill(); // mid-load: the exports' reads of this chain are in flight
                    }
                    int n = load.join();
                    slowest = Math.max(slowest, System.nanoTime() - t0);
                    for (int i = 0; i < n; i++) {
                        assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
                    }
                    loaded += n;
                }
                // A chain stops at its first block on the dead export: about (3/4)^k of chains pass k blocks.
                assertTrue(loaded > 0, "the live exports still serve: " + b.stats());
                assertTrue(loaded < CHAINS * CHAIN, "the dead export's blocks are misses: " + b.stats());
                assertTrue(b.stats().readErrors(Tier.REMOTE) > 0, "the dead export's reads are counted: " + b.stats());
                assertTrue(slowest < 5_000_000_000L, "a call took " + slowest / 1_000_000 + " ms with an export dead");
            }
        } finally {
            servers.forEach(NbdServer::close);
        }
    }

    @Test
    void addingADeviceMovesOnlyItsShareOfTheKeys() throws Exception {
        List<DeviceTier.Shard> shards = new ArrayList<>();
        for (int k = 0; k < 5; k++) {
            SlotTier s = SlotTier.open(BufferedFileDevice.open(dir.resolve("shard" + k), SsdFixtures.ssdBytes(64, 4096,
                    false), true), SsdFixtures.TOKENS, 4096, null, true);
            shards.add(new DeviceTier.Shard(s, new SharedSlotTier(s, 4), new IoEngine(s.device(), 1, 4, 4, 1_000),
                    DeviceTier.Shard.identityOf("flash" + k + ".example:10809/kv")));
        }
        DeviceTier four = DeviceTier.shared(Tier.REMOTE, shards.subList(0, 4));
        DeviceTier five = DeviceTier.shared(Tier.REMOTE, shards);
        List<DeviceTier.Shard> shuffled = new ArrayList<>(shards);
        Collections.shuffle(shuffled, new java.util.Random(7));
        DeviceTier fiveShuffled = DeviceTier.shared(Tier.REMOTE, shuffled);
        int keys = 5_000;
        int moved = 0;
        int[] perShard = new int[5];
        for (int i = 0; i < keys; i++) {
            long hi = i * 0x9E3779B97F4A7C15L;
            long lo = ~hi * 31;
            String before = deviceOf(four, hi, lo);
            String after = deviceOf(five, hi, lo);
            assertEquals(after, deviceOf(fiveShuffled, hi, lo), "the order of devices does not matter");
            moved += before.equals(after) ? 0 : 1;
            for (int k = 0; k < 5; k++) {
                perShard[k] += after.equals(shards.get(k).slots().device().describe()) ? 1 : 0;
            }
            assertTrue(before.equals(after) || after.equals(shards.get(4).slots().device().describe()),
                    "a key moved between old devices");
        }
        assertTrue(Math.abs(moved - keys / 5) < keys / 25, "moved " + moved + " of " + keys + ", about a fifth");
        for (int k = 0; k < 5; k++) {
            assertTrue(Math.abs(perShard[k] - keys / 5) < keys / 25, "device " + k + " got " + perShard[k]);
        }
        for (DeviceTier.Shard s : shards) {
            s.io().close();
            s.slots().close();
        }
    }

    /** The device a key's set is on. */
    private static String deviceOf(DeviceTier tier, long hi, long lo) throws Exception {
        int[] set = new int[tier.ways()];
        tier.rankSlots(hi, lo, set);
        return tier.describe(set[0]);
    }

    private static List<NbdServer> start() throws Exception {
        List<NbdServer> servers = new ArrayList<>();
        for (int i = 0; i < EXPORTS; i++) {
            servers.add(NbdServer.nbdkit("memory", "16M"));
        }
        return servers;
    }

    private static List<URI> uris(List<NbdServer> servers) {
        return servers.stream().map(NbdServer::uri).toList();
    }

    private static List<BlockKey[]> chains(String name) {
        return RemoteTierTest.chains(name, CHAINS, CHAIN);
    }
}
