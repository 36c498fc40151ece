package dev.kvtier;

import dev.kvtier.metrics.CacheObserver;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.metrics.Observers;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Device errors as they happen: each one goes to the observers (a JFR event), and to the log at
 * most once per device per window (10 s in a cache). The first error of a device logs at once
 * and opens its window; later ones in the window are only counted, and the next one logged
 * after it says how many were not. So a failing device that fails every request writes one
 * line per window, never one per block.
 */
final class DeviceErrors {
    private static final Logger LOG = LoggerFactory.getLogger(KvTierCache.class);
    static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Observers observers;
    private final long windowNanos;
    private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();

    /** One device's log window; guarded by itself. */
    private static final class Window {
        private boolean open;
        private long start;
        private long suppressed;
    }

    DeviceErrors(Observers observers, long windowNanos) {
        this.observers = observers;
        this.windowNanos = windowNanos;
    }

    /**
     * {@code operation} on {@code device} of {@code tier} failed ({@code outcome}, {@code error}).
     * Returns whether it was logged.
     */
    boolean report(int tier, String device, String operation, Outcome outcome, String error) {
        return report(tier, device, operation, outcome, error, true);
    }

    /**
     * As {@link #report(int, String, String, Outcome, String)}; with {@code log} false only the
     * observers hear of it (a device that has failed logged its fault once, when it failed).
     */
    boolean report(int tier, String device, String operation, Outcome outcome, String error, boolean log) {
        observers.deviceError(tier, device, operation, outcome, error);
        if (!log) {
            return false;
        }
        Window w = windows.computeIfAbsent(device, d -> new Window());
        long suppressed;
        synchronized (w) {
            long now = System.nanoTime();
            if (w.open && now - w.start < windowNanos) {
                w.suppressed++;
                return false;
            }
            suppressed = w.suppressed;
            w.open = true;
            w.start = now;
            w.suppressed = 0;
        }
        LOG.warn("kvtier: {} on {} ({}) failed: {}{}", operation, device, CacheObserver.tierName(tier), error,
                suppressed == 0 ? "" : " (" + suppressed + " more errors of this device were not logged)");
        return true;
    }
}
