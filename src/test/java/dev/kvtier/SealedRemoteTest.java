package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A sealed remote tier against a hostile server in another process ({@link SlotForger}) that
 * can write the export but has no secret: slots whose payloads it swapped under valid headers
 * and CRCs are misses, never served; the same attack on an unsealed export serves wrong bytes
 * (the control: the test can fail). Old slots it saved and writes back after an invalidation
 * stay invalid.
 */
class SealedRemoteTest {
    private static final byte[] SECRET = "a deployment secret, 32 bytes!!!".getBytes(StandardCharsets.US_ASCII);
    private static final long BYTES = 4L << 20;
    private static final int CHAINS = 12;
    private static final int CHAIN = 4;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @ParameterizedTest(name = "sealed {0}")
    @ValueSource(booleans = {true, false})
    void swappedPayloadsUnderValidCrcsAreMissesWhenSealed(boolean sealed) throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            List<BlockKey[]> chains = chains("forged-" + sealed);
            try (KvTierCache a = builder(server, sealed).build()) {
                for (BlockKey[] keys : chains) {
                    assertEquals(CHAIN, a.store(keys, RemoteTierTest.filled(keys)), a.stats().toString());
                }
                a.flush(java.time.Duration.ofSeconds(30));
            }
            ChildJvm.Result forged = ChildJvm.run(ChildJvm.cacheFlags(), SlotForger.class, server.uri().toString(),
                    Long.toString(BYTES), "forge");
            assertEquals(0, forged.exitCode(), forged.output());
            assertTrue(slots(forged) >= CHAINS * CHAIN * 3 / 4, "most blocks stayed on the export: " + forged.output());
            long wrongBytes = 0;
            int loaded = 0;
            try (KvTierCache b = builder(server, sealed).build()) {
                for (BlockKey[] keys : chains) {
                    PrefixMatch m = b.match(keys);
                    ByteBuffer[] dst = RemoteTierTest.empty(m.hitBlocks());
                    int n = b.load(m, dst).join();
                    for (int i = 0; i < n; i++) {
                        wrongBytes += SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]) < 0 ? 0 : 1;
                    }
                    loaded += n;
                }
                if (sealed) {
                    assertEquals(0, wrongBytes, "no forged block served: " + b.stats());
                    assertEquals(0, loaded, "every slot was forged: all misses");
                    assertTrue(b.stats().corruptBlocks(Tier.REMOTE) > 0, "counted: " + b.stats());
                } else {
                    assertTrue(wrongBytes > 0, "the control: unsealed, forged blocks are served (" + loaded
                            + " loaded): " + b.stats());
                }
            }
        }
    }

    @Test
    void oldSlotsWrittenBackAfterAnInvalidationStayInvalid() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            List<BlockKey[]> chains = chains("replayed");
            Path images = dir.resolve("images");
            ChildJvm.Result saved;
            try (KvTierCache a = builder(server, true).build()) {
                for (BlockKey[] keys : chains) {
                    a.store(keys, RemoteTierTest.filled(keys));
                }
                a.flush(java.time.Duration.ofSeconds(30));
                saved = ChildJvm.run(ChildJvm.cacheFlags(), SlotForger.class, server.uri().toString(),
                        Long.toString(BYTES), "save", images.toString());
                assertTrue(slots(saved) >= CHAINS * CHAIN * 3 / 4, saved.output());
                a.invalidate(chains.get(0)[0].namespace());
            }
            ChildJvm.Result replayed = ChildJvm.run(ChildJvm.cacheFlags(), SlotForger.class, server.uri().toString(),
                    Long.toString(BYTES), "replay", images.toString());
            assertEquals(slots(saved), slots(replayed), replayed.output());
            try (KvTierCache b = builder(server, true).build()) {
                for (BlockKey[] keys : chains) {
                    assertEquals(0, b.match(keys).hitBlocks(), "a replayed slot of an invalidated namespace: " + b.stats());
                }
            }
        }
    }

    /**
     * A second process moves every slot's write epoch a day ahead on an unsealed export (valid
     * header CRCs: anyone can): such slots are misses, not the newest blocks of their sets for
     * good, and the blocks written again afterwards are found by a third server.
     */
    @Test
    void slotsFromTheFarFutureAreMissesAndWrittenOver() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            List<BlockKey[]> chains = chains("future");
            try (KvTierCache a = builder(server, false).build()) {
                storeAndFlush(a, chains);
            }
            ChildJvm.Result moved = ChildJvm.run(ChildJvm.cacheFlags(), SlotForger.class, server.uri().toString(),
                    Long.toString(BYTES), "future");
            assertEquals(0, moved.exitCode(), moved.output());
            assertTrue(slots(moved) >= CHAINS * CHAIN * 3 / 4, "most blocks stayed on the export: " + moved.output());
            try (KvTierCache b = builder(server, false).build()) {
                assertEquals(0, loadChecked(b, chains), "slots from the far future are misses: " + b.stats());
                storeAndFlush(b, chains);
            }
            try (KvTierCache c = builder(server, false).build()) {
                assertEquals(CHAINS * CHAIN, loadChecked(c, chains), "the blocks written again are found: " + c.stats());
            }
        }
    }

    /**
     * A tenant's namespace sealed with its own secret besides the deployment's: a server of the
     * deployment without it finds the tenant's blocks but every load is a miss counted as
     * corrupt, while the public namespace's blocks load; a block it writes under the tenant's
     * keys (sealed with the deployment's key only) is a miss for the tenant's server, never
     * served; the tenant's server still loads what it wrote itself.
     */
    @Test
    void aTenantsBlocksNeedItsSecret() throws Exception {
        byte[] tenantSecret = "the tenant's own secret, 32 B!!!".getBytes(StandardCharsets.US_ASCII);
        List<BlockKey[]> tenant = RemoteTierTest.chains("tenant-t", 4, CHAIN);
        List<BlockKey[]> shared = RemoteTierTest.chains("public-p", 4, CHAIN);
        dev.kvtier.key.Namespace t = SsdFixtures.namespace("tenant-t");
        IllegalArgumentException alone = assertThrows(IllegalArgumentException.class,
                () -> RemoteTier.builder(java.net.URI.create("nbd://localhost/"), BYTES).tenantSecret(t, tenantSecret).build());
        assertTrue(alone.getMessage().contains("needs the deployment's secret"), alone.getMessage());
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            try (KvTierCache owner = builder(server, RemoteWorker.remote(server.uri(), BYTES).secret(SECRET)
                    .tenantSecret(t, tenantSecret)).build()) {
                storeAndFlush(owner, tenant);
                storeAndFlush(owner, shared);
            }
            try (KvTierCache other = builder(server, SECRET).build()) {
                assertEquals(shared.size() * CHAIN, loadChecked(other, shared), "the public namespace: " + other.stats());
                assertEquals(0, loadChecked(other, tenant), "the tenant's blocks without its secret: " + other.stats());
                assertTrue(other.stats().corruptBlocks(Tier.REMOTE) > 0, "counted: " + other.stats());
                storeAndFlush(other, tenant.subList(0, 1)); // forged: sealed under the deployment's key only
            }
            try (KvTierCache owner = builder(server, RemoteWorker.remote(server.uri(), BYTES).secret(SECRET)
                    .tenantSecret(t, tenantSecret)).build()) {
                assertEquals((tenant.size() - 1) * CHAIN, loadChecked(owner, tenant.subList(1, tenant.size())),
                        "the tenant's server loads its own blocks: " + owner.stats());
                assertEquals(0, loadChecked(owner, tenant.subList(0, 1)), "the block written without the tenant's"
                        + " secret is not served: " + owner.stats());
            }
        }
    }

    private static void storeAndFlush(KvTierCache cache, List<BlockKey[]> chains) {
        for (BlockKey[] keys : chains) {
            assertEquals(CHAIN, cache.store(keys, RemoteTierTest.filled(keys)), cache.stats().toString());
        }
        cache.flush(Duration.ofSeconds(30));
    }

    /** Matches and loads every chain; returns the blocks loaded, each checked against its key. */
    private static int loadChecked(KvTierCache cache, List<BlockKey[]> chains) {
        int loaded = 0;
        for (BlockKey[] keys : chains) {
            PrefixMatch m = cache.match(keys);
            ByteBuffer[] dst = RemoteTierTest.empty(m.hitBlocks());
            int n = cache.load(m, dst).join();
            for (int i = 0; i < n; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
            }
            loaded += n;
        }
        return loaded;
    }

    @Test
    void aCacheWithAnotherSecretOrNoneIsRefusedTheExport() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            builder(server, true).build().close();
            String other = assertRefused(builder(server, "another secret of 32 bytes......".getBytes(StandardCharsets.US_ASCII)));
            assertTrue(other.contains("sealed with another secret"), other);
            String none = assertRefused(builder(server, false));
            assertTrue(none.contains("sealed with a secret and this cache has none"), none);
        }
        try (NbdServer server = NbdServer.nbdkit("memory", "16M")) {
            builder(server, false).build().close();
            String unsealed = assertRefused(builder(server, true));
            assertTrue(unsealed.contains("not sealed"), unsealed);
        }
    }

    /** The slots the forger rewrote or saved. */
    private static int slots(ChildJvm.Result r) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("slots (\\d+)").matcher(r.output());
        assertTrue(m.find(), r.output());
        return Integer.parseInt(m.group(1));
    }

    private static String assertRefused(KvTierCacheBuilder b) {
        try (KvTierCache c = b.build()) {
            throw new AssertionError("attached: " + c);
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    private static KvTierCacheBuilder builder(NbdServer server, boolean sealed) {
        return builder(server, sealed ? SECRET : null);
    }

    private static KvTierCacheBuilder builder(NbdServer server, byte[] secret) {
        RemoteTier.Builder remote = RemoteWorker.remote(server.uri(), BYTES);
        return builder(server, secret == null ? remote : remote.secret(secret));
    }

    private static KvTierCacheBuilder builder(NbdServer server, RemoteTier.Builder remote) {
        return RemoteWorker.builder(remote).dramCapacityBytes(4L * RemoteWorker.BLOCK).storeWait(Duration.ofSeconds(10));
    }

    private static List<BlockKey[]> chains(String name) {
        return RemoteTierTest.chains(name, CHAINS, CHAIN);
    }
}
