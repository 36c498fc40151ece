package dev.kvtier;

import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheObserver;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Micrometer meters of a {@link KvTierCache} (Micrometer is an optional dependency: only this
 * class names its types). {@code new KvTierMetrics(cache).bindTo(registry)} registers, under
 * {@code kvtier.}, with a lower-case {@code tier} tag where a figure is per tier:
 * <ul>
 * <li>function counters read from the cache's own counters (the figures {@link KvTierCache#stats()}
 * reports, cumulative since the cache was built): hits, misses, loaded, stored, demoted, promoted,
 * evicted, dropped, rejected, corrupt, mismatched, read and write errors, recovered blocks, and
 * the devices' declined writes and timeouts;</li>
 * <li>gauges: resident and capacity blocks per tier, active pins, the I/O queues' depth per tier
 * and kind, and the SSD index rebuild's time;</li>
 * <li>timers of {@code match}, {@code load} and {@code store} calls (with percentiles), recorded
 * by the engine as each call ends, from the moment of binding.</li>
 * </ul>
 * The README's "Metrics" table lists every meter. Per-tier meters exist for the tiers the cache
 * has. Meters hold the cache weakly, as Micrometer's function meters do; {@link #close()} stops
 * the timers' recording (the meters stay in the registry until removed there).
 */
public final class KvTierMetrics implements MeterBinder, AutoCloseable {
    private static final String PREFIX = "kvtier.";
    private static final String BLOCKS = "blocks";
    private static final double[] PERCENTILES = {0.5, 0.9, 0.99};

    private final TieredCache cache;
    private final List<CacheObserver> timers = new ArrayList<>();

    /** Meters of {@code cache}, which must come from {@link KvTierCache#builder()}. */
    public KvTierMetrics(KvTierCache cache) {
        if (!(cache instanceof TieredCache)) {
            throw new IllegalArgumentException("KvTierMetrics needs a cache built by KvTierCache.builder(), was "
                    + (cache == null ? "null" : cache.getClass().getName()));
        }
        this.cache = (TieredCache) cache;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        CacheStats now = cache.stats();
        List<Tier> tiers = new ArrayList<>();
        for (Tier t : Tier.values()) {
            if (now.capacityBlocks(t) > 0) {
                tiers.add(t);
            }
        }
        List<Tier> devices = tiers.subList(1, tiers.size());
        counter(registry, "lookup.blocks", BLOCKS, "Keys asked for by match", Counter.LOOKUP_BLOCKS);
        counter(registry, "miss.blocks", BLOCKS, "Keys match did not find (the rest of each chain after its first miss)",
                Counter.MISS_BLOCKS);
        counter(registry, "load.lost.blocks", BLOCKS, "Matched blocks a load could not deliver",
                Counter.LOAD_LOST_BLOCKS);
        counter(registry, "dropped.blocks", BLOCKS, "Blocks evicted from DRAM without a copy below",
                Counter.DROPPED_BLOCKS);
        counter(registry, "demotion.declined.blocks", BLOCKS, "Demotions not attempted: no slot could be freed",
                Counter.DEMOTE_DECLINED_BLOCKS);
        counter(registry, "demotion.failed.blocks", BLOCKS, "Demotions whose device write failed",
                Counter.DEMOTE_FAILED_BLOCKS);
        perTier(registry, tiers, "hit.blocks", BLOCKS, "Blocks match found, by the tier they were in",
                Counter.HIT_BLOCKS);
        perTier(registry, tiers, "loaded.blocks", BLOCKS, "Blocks copied to callers, by tier read from",
                Counter.LOADED_BLOCKS);
        perTier(registry, tiers, "loaded.bytes", BaseUnits.BYTES, "Bytes copied to callers, by tier read from",
                Counter.LOADED_BYTES);
        perTier(registry, tiers, "evicted.blocks", BLOCKS, "Blocks evicted from the tier", Counter.EVICTED_BLOCKS);
        perTier(registry, tiers, "rejected.blocks", BLOCKS,
                "Blocks admission refused: new blocks a store did not keep (dram), writes not made (ssd, remote)",
                Counter.REJECTED_BLOCKS);
        perTier(registry, List.of(Tier.DRAM), "stored.blocks", BLOCKS, "New blocks stores kept", Counter.STORED_BLOCKS);
        perTier(registry, List.of(Tier.DRAM), "stored.bytes", BaseUnits.BYTES, "Bytes of new blocks stores kept",
                Counter.STORED_BYTES);
        perTier(registry, devices, "demoted.blocks", BLOCKS, "Blocks written down to the tier", Counter.STORED_BLOCKS);
        perTier(registry, devices, "demoted.bytes", BaseUnits.BYTES,
                "Bytes of blocks written down to the tier, before compression", Counter.STORED_BYTES);
        perTier(registry, devices, "device.written.bytes", BaseUnits.BYTES,
                "Device bytes written for blocks, after compression", Counter.ENCODED_BYTES);
        perTier(registry, devices, "promoted.blocks", BLOCKS, "Blocks read from the tier and copied into DRAM",
                Counter.PROMOTED_BLOCKS);
        for (Tier t : devices) {
            long blockBytes = cache.blockBytes();
            FunctionCounter.builder(PREFIX + "promoted.bytes", cache.metrics(),
                            m -> (double) m.get(Counter.PROMOTED_BLOCKS, t.ordinal()) * blockBytes)
                    .tag("tier", tag(t)).baseUnit(BaseUnits.BYTES)
                    .description("Bytes read from the tier and copied into DRAM").register(registry);
        }
        perTier(registry, devices, "corrupt.blocks", BLOCKS, "Reads that failed a checksum, header or decoding check",
                Counter.CORRUPT_BLOCKS);
        perTier(registry, devices, "mismatched.blocks", BLOCKS, "Reads whose slot held another block",
                Counter.MISMATCHED_BLOCKS);
        perTier(registry, devices, "read.errors", null, "Reads that failed with an I/O error", Counter.READ_ERRORS);
        perTier(registry, devices, "write.errors", null, "Slot wipes and records that failed with an I/O error",
                Counter.WRITE_ERRORS);
        perTier(registry, devices, "recovered.blocks", BLOCKS, "Blocks found on the device when the cache opened",
                Counter.RECOVERED_BLOCKS);
        bindGauges(registry, tiers, devices, now);
        bindTimers(registry);
    }

    private void bindGauges(MeterRegistry registry, List<Tier> tiers, List<Tier> devices, CacheStats now) {
        for (Tier t : tiers) {
            int id = t.ordinal();
            Gauge.builder(PREFIX + "resident.blocks", cache, c -> c.gauges().resident()[id]).tag("tier", tag(t))
                    .baseUnit(BLOCKS).description("Blocks readable in the tier now").register(registry);
            long capacity = now.capacityBlocks(t);
            Gauge.builder(PREFIX + "capacity.blocks", cache, c -> capacity).tag("tier", tag(t)).baseUnit(BLOCKS)
                    .description("Blocks the tier can hold").register(registry);
        }
        Gauge.builder(PREFIX + "pins.active", cache, c -> c.gauges().pins())
                .description("Pins held now: open block handles and loads in progress").register(registry);
        for (Tier t : devices) {
            for (IoEngine.Kind kind : IoEngine.Kind.values()) {
                Gauge.builder(PREFIX + "io.queue.depth", cache, io(t, e -> e.queued(kind))).tag("tier", tag(t))
                        .tag("kind", kind.name().toLowerCase(java.util.Locale.ROOT))
                        .description("Requests queued on the tier's I/O engines, not yet running").register(registry);
            }
            FunctionCounter.builder(PREFIX + "io.declined.writes", cache, io(t, IoEngine::declinedWrites))
                    .tag("tier", tag(t)).description("Writes declined: queue full or device failed").register(registry);
            FunctionCounter.builder(PREFIX + "io.timed.out.requests", cache, io(t, IoEngine::timedOutRequests))
                    .tag("tier", tag(t)).description("Requests that outwaited their deadline").register(registry);
        }
        if (now.capacityBlocks(Tier.SSD) > 0) {
            long millis = now.ssdRecoveryMillis();
            TimeGauge.builder(PREFIX + "recovery.time", cache, TimeUnit.MILLISECONDS, c -> millis)
                    .tag("tier", tag(Tier.SSD)).description("Time the index rebuild from the device took at open")
                    .register(registry);
        }
    }

    /** The timers, fed by an observer the engine tells of each call from now on. */
    private void bindTimers(MeterRegistry registry) {
        Timer match = timer(registry, "match", "match calls");
        Timer load = timer(registry, "load", "loads, from the call to the future's completion or cancel");
        Timer store = timer(registry, "store", "store calls");
        CacheObserver o = new CacheObserver() {
            @Override
            public void match(int blocks, int hits, long nanos) {
                match.record(nanos, TimeUnit.NANOSECONDS);
            }

            @Override
            public void load(int tier, int blocks, int delivered, long bytes, long nanos, Outcome outcome) {
                load.record(nanos, TimeUnit.NANOSECONDS);
            }

            @Override
            public void store(int blocks, int stored, long bytes, long nanos) {
                store.record(nanos, TimeUnit.NANOSECONDS);
            }
        };
        synchronized (timers) {
            timers.add(o);
        }
        cache.metrics().observers().add(o);
    }

    private static Timer timer(MeterRegistry registry, String name, String what) {
        return Timer.builder(PREFIX + name).publishPercentiles(PERCENTILES).description("Time of " + what)
                .register(registry);
    }

    /** Stops the timers' recording. Idempotent. */
    @Override
    public void close() {
        synchronized (timers) {
            for (CacheObserver o : timers) {
                cache.metrics().observers().remove(o);
            }
            timers.clear();
        }
    }

    private void counter(MeterRegistry registry, String name, String unit, String description, Counter c) {
        FunctionCounter.builder(PREFIX + name, cache.metrics(), m -> m.get(c)).baseUnit(unit).description(description)
                .register(registry);
    }

    private void perTier(MeterRegistry registry, List<Tier> tiers, String name, String unit, String description,
            Counter c) {
        for (Tier t : tiers) {
            int id = t.ordinal();
            FunctionCounter.builder(PREFIX + name, cache.metrics(), (CacheMetrics m) -> m.get(c, id))
                    .tag("tier", tag(t)).baseUnit(unit).description(description).register(registry);
        }
    }

    /** A figure summed over the I/O engines of {@code tier}'s devices. */
    private static ToDoubleFunction<TieredCache> io(Tier tier, ToLongFunction<IoEngine> figure) {
        return c -> c.engines(tier.ordinal()).stream().mapToLong(figure).sum();
    }

    private static String tag(Tier t) {
        return t.name().toLowerCase(java.util.Locale.ROOT);
    }
}
