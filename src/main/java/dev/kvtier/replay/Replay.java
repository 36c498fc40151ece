package dev.kvtier.replay;

import dev.kvtier.CacheStats;
import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierCacheBuilder;
import dev.kvtier.PrefixMatch;
import dev.kvtier.RemoteTier;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.offline.OfflineKnobs;
import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.IntConsumer;

/**
 * Replays a trace through a real {@link KvTierCache}: real tiers, real bytes, the policy under
 * test. Uses only the library's public API.
 *
 * <p><b>Per request, in trace order:</b> all the request's block ids, a partial last one
 * (Mooncake's) included, become chained keys ({@link Namespace#keysFromHashes}, one namespace
 * per trace source, so ids local to a file never collide); {@code match} finds the leading
 * blocks kept; {@code load} copies them into block buffers (each checked to hold its own key: a
 * wrong block is counted); then every full block of the request not yet kept is stored, and,
 * when a tier below DRAM exists, the replay waits for the cache's background writes
 * ({@code awaitIdle}) so that runs are repeatable. With such a tier the stores wait for the
 * demoter too ({@code storeWait}, {@link #STORE_WAIT}): a server stores a long prompt as its
 * prefill produces it, far slower than a device writes, while a replay stores it at once, and
 * without back-pressure a prompt longer than DRAM would drop its own blocks not yet written
 * down, a loss set by thread timing, not by the policy. A partial last block is never stored, as a
 * server stores only full blocks; it hits only where a longer prompt stored a full block with
 * the same id after the same prefix. A prompt shorter than one block has a single, partial, id;
 * an empty one has none and matches nothing (its request still counts, with no tokens).
 *
 * <p><b>Hit rate.</b> Over every request, the tokens of the leading blocks loaded (a block counts
 * only while every block before it in that request also hit; each weighs its token count, a
 * partial last one the remainder of the input), divided by all input tokens. Seconds saved sum
 * the prefill model's time for the hit tokens at their positions. The {@code opt} oracle's
 * next use of a key is the next request that looks it up, partial last blocks included.
 *
 * <p>The cache closes without flushing DRAM down: the replay's figures are taken before, and
 * its files are deleted after.
 *
 * <p>The policy clock follows the trace's timestamps, so write budgets and rate controllers see
 * trace time, not replay speed.
 */
public final class Replay {
    /** How long a store may wait for the demoter (see the class comment): beyond any run's need. */
    private static final Duration STORE_WAIT = Duration.ofMinutes(1);

    private final Trace trace;
    /** The configuration replayed: {@link #reported}, or for opt with device tiers, one DRAM of their total. */
    private final ReplayConfig config;
    /** The configuration asked for, whose capacities the result reports. */
    private final ReplayConfig reported;
    private final Namespace[] namespaces;
    private long clockNanos;
    private ByteBuffer[] buffers = new ByteBuffer[0];

    private Replay(Trace trace, ReplayConfig config) {
        this.trace = trace;
        this.reported = config;
        this.config = boundOverTiers(config);
        this.namespaces = new Namespace[trace.sources()];
        for (int s = 0; s < namespaces.length; s++) {
            namespaces[s] = Namespace.builder("replay:" + trace.name()).tenantSalt("source-" + s)
                    .blockTokens(config.blockTokens()).build();
        }
    }

    /**
     * {@code opt} with device tiers is Belady over the total capacity with free movement between
     * tiers: one DRAM tier of all the slots. No policy on the tiered cache keeps more distinct
     * blocks than its slots, nor chooses better among them than Belady does, so this bounds every
     * policy in the configuration (the tiered {@code opt} policy itself does not: its DRAM
     * admission and the device tiers' LRU order are not optimal together).
     */
    static ReplayConfig boundOverTiers(ReplayConfig c) {
        if (c.policy() != ReplayPolicy.OPT || c.ssdBlocks() == 0 && c.remoteBlocks() == 0) {
            return c;
        }
        return c.withCapacity(c.dramBlocks() + c.ssdBlocks() + c.remoteBlocks(), 0, 0);
    }

    /** Replays {@code trace} under {@code config}; {@code progress} hears of every request done. */
    public static ReplayResult run(Trace trace, ReplayConfig config, IntConsumer progress) throws IOException {
        return new Replay(trace, config).run(progress);
    }

    private ReplayResult run(IntConsumer progress) throws IOException {
        long t0 = System.nanoTime();
        NextUses future = config.policy() == ReplayPolicy.OPT ? future() : null;
        Path ssdFile = config.ssdBlocks() > 0 ? Files.createTempFile(config.workDir(), "replay-", ".slots") : null;
        long hitTokens = 0;
        long[] byTier = new long[3];
        double saved = 0;
        long wrong = 0;
        try (KvTierCache cache = build(ssdFile, future)) {
            PrefixMatch match = new PrefixMatch();
            int n = 0;
            for (TraceRequest r : trace.requests()) {
                if (future != null) {
                    future.setNow(n);
                }
                clockNanos = (long) (r.timeSeconds() * 1e9);
                BlockKey[] keys = namespaces[r.source()].keysFromHashes(r.hashIds());
                cache.match(keys, match);
                ensureBuffers(keys.length);
                int loaded = match.hitBlocks() == 0 ? 0 : cache.load(match, buffers).join();
                for (int i = 0; i < loaded; i++) {
                    int tokens = r.blockTokens(i, config.blockTokens());
                    hitTokens += tokens;
                    byTier[match.tier(i).ordinal()] += tokens;
                    saved += config.prefill().seconds((long) i * config.blockTokens(), tokens);
                    wrong += holds(buffers[i], keys[i]) ? 0 : 1;
                }
                storeRest(cache, keys, loaded, r.fullBlocks(config.blockTokens()));
                if (config.ssdBlocks() > 0 || config.remoteBlocks() > 0) {
                    cache.awaitIdle();
                }
                progress.accept(++n);
            }
            return result(cache.stats(), hitTokens, byTier, saved, wrong, (System.nanoTime() - t0) / 1e9);
        } finally {
            if (ssdFile != null) {
                Files.deleteIfExists(ssdFile);
            }
        }
    }

    private KvTierCache build(Path ssdFile, NextUses future) {
        int bytes = config.blockBytes();
        KvTierCacheBuilder b = KvTierCache.builder().blockTokens(config.blockTokens()).blockBytes(bytes)
                .dramCapacityBytes(config.dramBlocks() * ((bytes + 63L) & -64L))
                .flushOnClose(Duration.ZERO);
        if (config.ssdBlocks() > 0 || config.remoteBlocks() > 0) {
            b.storeWait(STORE_WAIT);
        }
        if (future == null) {
            b.policy(config.policy().cachePolicy());
        }
        if (weighed()) {
            b.prefillModel(config.prefill());
        }
        if (ssdFile != null) {
            b.localSsd(ssdFile, KvTierCacheBuilder.deviceBytesFor(config.ssdBlocks(), bytes))
                    .reinitializeIncompatibleDevices(true);
        }
        if (config.remoteBlocks() > 0) {
            b.remote(RemoteTier.builder(config.remoteUri(), KvTierCacheBuilder.deviceBytesFor(config.remoteBlocks(), bytes))
                    .build()).reinitializeIncompatibleDevices(true);
        }
        return OfflineKnobs.building(future, () -> clockNanos, b::build);
    }

    /** Whether costaware weighs its hits by prefill time (other policies ignore the setting). */
    private boolean weighed() {
        return config.weighByPrefill() && config.policy() == ReplayPolicy.COSTAWARE;
    }

    /** Stores blocks {@code [from, to)} of the request, in pieces DRAM can take, until the cache keeps no more. */
    private void storeRest(KvTierCache cache, BlockKey[] keys, int from, int to) {
        long dram = config.dramBlocks();
        for (int i = from; i < to; ) {
            int count = (int) Math.min(to - i, dram);
            for (int j = 0; j < count; j++) {
                fill(buffers[i + j], keys[i + j]);
            }
            int stored = cache.store(keys, buffers, i, count);
            if (stored < count) {
                break;
            }
            i += count;
        }
    }

    private void ensureBuffers(int n) {
        if (buffers.length >= n) {
            return;
        }
        ByteBuffer[] b = java.util.Arrays.copyOf(buffers, Math.max(n, 2 * buffers.length));
        for (int i = buffers.length; i < b.length; i++) {
            b[i] = ByteBuffer.allocateDirect(config.blockBytes());
        }
        buffers = b;
    }

    /** A block's payload: its key, then zeros. */
    private static void fill(ByteBuffer b, BlockKey k) {
        b.clear();
        b.putLong(0, k.hi()).putLong(8, k.lo());
    }

    private static boolean holds(ByteBuffer b, BlockKey k) {
        return b.getLong(0) == k.hi() && b.getLong(8) == k.lo();
    }

    private NextUses future() {
        NextUses f = new NextUses();
        int n = 0;
        for (TraceRequest r : trace.requests()) {
            for (BlockKey k : namespaces[r.source()].keysFromHashes(r.hashIds())) {
                f.add(k.hi(), n);
            }
            n++;
        }
        return f.seal();
    }

    private ReplayResult result(CacheStats s, long hitTokens, long[] byTier, double saved, long wrong, double wall) {
        long[] capacity = new long[3];
        long[] written = new long[3];
        long[] bytes = new long[3];
        long[] evicted = new long[3];
        long[] rejected = new long[3];
        for (Tier t : Tier.values()) {
            int i = t.ordinal();
            capacity[i] = reported == config ? s.capacityBlocks(t)
                    : new long[] {reported.dramBlocks(), reported.ssdBlocks(), reported.remoteBlocks()}[i];
            written[i] = t == Tier.DRAM ? 0 : s.storedBlocks(t);
            bytes[i] = t == Tier.DRAM ? 0 : s.encodedBytes(t);
            evicted[i] = s.evictedBlocks(t);
            rejected[i] = s.rejectedBlocks(t);
        }
        return new ReplayResult(trace.name(), config.policy().id() + (weighed() ? "-prefill" : ""), trace.requests().size(), trace.inputTokens(),
                hitTokens, byTier, capacity, written, bytes, evicted, rejected, saved, wrong, wall, s.loadLatency());
    }
}
