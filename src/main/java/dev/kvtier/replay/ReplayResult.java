package dev.kvtier.replay;

import dev.kvtier.LatencySnapshot;

/**
 * What one replay measured. Arrays are indexed by tier (DRAM, SSD, REMOTE). Hit tokens are
 * token-weighted prefix hits (see {@link Replay}); {@code hitTokensByTier} splits them by the
 * tier each hit block was loaded from. {@code wrongBlocks} counts loaded blocks whose bytes
 * were not the block's (always 0 unless the cache is broken). {@code loadLatency}: per
 * {@code load} call.
 */
public record ReplayResult(String trace, String policy, long requests, long inputTokens, long hitTokens,
        long[] hitTokensByTier, long[] capacityBlocks, long[] blocksWritten, long[] bytesWritten, long[] evictions,
        long[] rejected, double prefillSecondsSaved, long wrongBlocks, double wallSeconds, LatencySnapshot loadLatency) {

    public double hitRate() {
        return inputTokens == 0 ? 0 : (double) hitTokens / inputTokens;
    }

    public double hitRate(int tier) {
        return inputTokens == 0 ? 0 : (double) hitTokensByTier[tier] / inputTokens;
    }
}
