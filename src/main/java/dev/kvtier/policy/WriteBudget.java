package dev.kvtier.policy;

import java.util.function.LongSupplier;

/**
 * A token bucket of write bytes: {@code bytesPerSecond} refill, at most one second's worth (and
 * at least one block) banked. A device tier's write budget, like an SSD's drive writes per day
 * turned into a rate. Time comes from the policy clock, so replays can run on trace time.
 */
public final class WriteBudget {
    private final double bytesPerSecond;
    private final double burst;
    private final LongSupplier nanos;
    private double tokens;
    private long last;

    public WriteBudget(double bytesPerSecond, long blockBytes, LongSupplier nanos) {
        if (!(bytesPerSecond > 0)) {
            throw new IllegalArgumentException("write budget must be positive bytes per second: " + bytesPerSecond);
        }
        this.bytesPerSecond = bytesPerSecond;
        this.burst = Math.max(bytesPerSecond, blockBytes);
        this.nanos = nanos;
        this.tokens = burst;
        this.last = nanos.getAsLong();
    }

    /** Takes {@code bytes} if the bucket holds them; false (and nothing taken) otherwise. */
    public boolean tryTake(long bytes) {
        long now = nanos.getAsLong();
        tokens = Math.min(burst, tokens + (now - last) * 1e-9 * bytesPerSecond);
        last = now;
        if (tokens < bytes) {
            return false;
        }
        tokens -= bytes;
        return true;
    }

    public double bytesPerSecond() {
        return bytesPerSecond;
    }
}
