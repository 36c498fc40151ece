package dev.kvtier.policy;

import java.util.function.LongSupplier;

/**
 * CacheLib's {@code DynamicRandomAP}, reduced to its controller: every block enters DRAM; a
 * write to a device tier is admitted with probability {@code p}, and every window of 10
 * seconds {@code p} is scaled by the ratio of the target bytes to the bytes admitted in that
 * window (by at most 2x up or down, kept in [0.001, 1]), so the long-run write rate follows the
 * target. The draw is the block key's hash (deterministic). Targets are bytes per second per
 * tier; without a configured budget a tier's target is its capacity every 10 minutes.
 */
public final class WriteLimitAdmission implements AdmissionPolicy {
    private static final long WINDOW_NS = 10_000_000_000L;

    private final BlockFacts facts;
    private final LongSupplier nanos;
    private final long blockBytes;
    private final double[] targetBytesPerSecond;
    private final double[] probability;
    private final long[] windowBytes;
    private final long[] windowStart;

    public WriteLimitAdmission(BlockFacts facts, double[] targetBytesPerSecond, long blockBytes, LongSupplier nanos) {
        this.facts = facts;
        this.nanos = nanos;
        this.blockBytes = blockBytes;
        this.targetBytesPerSecond = targetBytesPerSecond.clone();
        int tiers = targetBytesPerSecond.length;
        probability = new double[tiers];
        windowBytes = new long[tiers];
        windowStart = new long[tiers];
        long now = nanos.getAsLong();
        for (int t = 0; t < tiers; t++) {
            probability[t] = 1;
            windowStart[t] = now;
        }
    }

    @Override
    public boolean admitNew(long hi, long lo, int position, double chainSample, int victim) {
        return true;
    }

    @Override
    public boolean admitWrite(int tier, int entry, double chainSample, double writePressure) {
        adjust(tier);
        if (FrequencySketch.unit(facts.keyHi(entry), facts.keyLo(entry), 0) >= probability[tier]) {
            return false;
        }
        windowBytes[tier] += blockBytes;
        return true;
    }

    private void adjust(int tier) {
        long now = nanos.getAsLong();
        long elapsed = now - windowStart[tier];
        if (elapsed < WINDOW_NS) {
            return;
        }
        double target = targetBytesPerSecond[tier] * elapsed * 1e-9;
        double ratio = windowBytes[tier] == 0 ? 2 : target / windowBytes[tier];
        probability[tier] = Math.max(0.001, Math.min(1, probability[tier] * Math.max(0.5, Math.min(2, ratio))));
        windowBytes[tier] = 0;
        windowStart[tier] = now;
    }

    @Override
    public void onWriteDeclined(int tier) {
        windowBytes[tier] = Math.max(0, windowBytes[tier] - blockBytes);
    }

    @Override
    public double admitShare(int tier) {
        return tier == 0 ? 1 : probability[tier];
    }
}
