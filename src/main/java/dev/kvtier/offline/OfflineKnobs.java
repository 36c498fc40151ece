package dev.kvtier.offline;

import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What only an offline replay can give a cache, kept out of the server-facing builder: the
 * future (each key's next use, which makes the cache run Belady's optimum, the replay's
 * {@code opt} reference) and the clock its policies run on (the trace's time instead of the
 * machine's, so write budgets and rate controllers see trace time).
 *
 * <p>Contract: {@link #building} runs {@code build} with the knobs in force on the calling
 * thread; a {@code KvTierCacheBuilder.build()} on that thread during the call takes them (and
 * refuses an explicit {@code policy(...)} together with a future), and no build elsewhere or
 * afterwards sees them. Calls do not nest. Internal: used by {@code dev.kvtier.replay} and the
 * library's tests only.
 */
public final class OfflineKnobs {
    /** A key's next use (any increasing clock, such as a request number), or {@link Long#MAX_VALUE} for never. */
    @FunctionalInterface
    public interface NextUse {
        long nextUse(long hi, long lo);
    }

    private record Knobs(NextUse future, LongSupplier clockNanos) {
    }

    private static final ThreadLocal<Knobs> CURRENT = new ThreadLocal<>();

    private OfflineKnobs() {
    }

    /**
     * Runs {@code build} with {@code future} (null: the cache runs the policy it is given) and
     * {@code clockNanos} (null: {@link System#nanoTime()}) in force for caches built on this
     * thread, and returns what it returns.
     */
    public static <T> T building(NextUse future, LongSupplier clockNanos, Supplier<T> build) {
        Objects.requireNonNull(build, "build");
        if (CURRENT.get() != null) {
            throw new IllegalStateException("OfflineKnobs.building does not nest");
        }
        CURRENT.set(new Knobs(future, clockNanos));
        try {
            return build.get();
        } finally {
            CURRENT.remove();
        }
    }

    /** The future in force on this thread, or null. */
    public static NextUse future() {
        Knobs k = CURRENT.get();
        return k == null ? null : k.future();
    }

    /** The policy clock in force on this thread, or null for the machine's. */
    public static LongSupplier clockNanos() {
        Knobs k = CURRENT.get();
        return k == null ? null : k.clockNanos();
    }
}
