package dev.kvtier;

import dev.kvtier.format.SlotSeal;
import dev.kvtier.offline.OfflineKnobs;
import java.net.URI;
import java.util.List;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;

/** A validated cache configuration, as the builder hands it to the engine. */
record CacheConfig(int blockTokens, int blockBytes, long dramCapacityBytes, Path ssdPath, long ssdCapacityBytes,
        Compression ssdCompression, boolean ssdDirectIo, boolean reinitializeDevices, double demoteAhead,
        long closeFlushNanos, long storeWaitNanos, java.util.concurrent.Executor loadCompletions, Remote remote,
        Policy policy) {

    /**
     * The admission and eviction policy and its settings: the offline future that makes it opt
     * instead of {@code kind} (null: none; {@link OfflineKnobs}), per-tier write budgets (bytes
     * per second, 0 for none; indexed by tier), the clock budgets run on, and the prefill model
     * that weighs costaware's hits (null: every block alike).
     */
    record Policy(CachePolicy kind, OfflineKnobs.NextUse oracle, double[] writeBudgets,
            java.util.function.LongSupplier clockNanos, PrefillModel prefill, int blockTokens) {
    }

    /**
     * The remote tier: its exports, each used up to {@code capacityBytes}; {@code tls} null means
     * the JVM's default context for an nbds:// URI; {@code seal} null: unsealed; {@code ways} 0:
     * each export's own ({@link RemoteTier#DEFAULT_WAYS} for blank ones).
     */
    record Remote(List<URI> uris, long capacityBytes, int connections, long timeoutMillis, int ways, long recheckMillis,
            long lookupBudgetMillis, Compression compression, SSLContext tls, SlotSeal seal) {
    }

    boolean hasSsd() {
        return ssdPath != null;
    }

    boolean hasRemote() {
        return remote != null;
    }
}
