package dev.kvtier.metrics;

import java.util.Arrays;

/**
 * The observers of one cache, told of each event in the order they were added. Copy-on-write:
 * adding or removing replaces a volatile array, so telling allocates nothing and takes no lock;
 * with no observer a call is a loop over an empty array. Each method is the same loop written
 * out, as a shared loop taking a lambda would allocate one per call for the arguments it captures.
 */
public final class Observers implements CacheObserver {
    private volatile CacheObserver[] all = new CacheObserver[0];

    /** Adds {@code o}; it hears of events from now on. */
    public synchronized void add(CacheObserver o) {
        CacheObserver[] a = Arrays.copyOf(all, all.length + 1);
        a[a.length - 1] = o;
        all = a;
    }

    /** Removes {@code o} (by identity) if present. */
    public synchronized void remove(CacheObserver o) {
        all = Arrays.stream(all).filter(x -> x != o).toArray(CacheObserver[]::new);
    }

    /** Whether any observer is added: callers skip figures only observers need when not. */
    public boolean any() {
        return all.length > 0;
    }

    @Override
    public void match(int blocks, int hits, long nanos) {
        for (CacheObserver o : all) {
            o.match(blocks, hits, nanos);
        }
    }

    @Override
    public void load(int tier, int blocks, int delivered, long bytes, long nanos, Outcome outcome) {
        for (CacheObserver o : all) {
            o.load(tier, blocks, delivered, bytes, nanos, outcome);
        }
    }

    @Override
    public void store(int blocks, int stored, long bytes, long nanos) {
        for (CacheObserver o : all) {
            o.store(blocks, stored, bytes, nanos);
        }
    }

    @Override
    public void demotion(int tier, long bytes, long nanos, Outcome outcome) {
        for (CacheObserver o : all) {
            o.demotion(tier, bytes, nanos, outcome);
        }
    }

    @Override
    public void promotion(int tier, int blocks, long bytes, long nanos, Outcome outcome) {
        for (CacheObserver o : all) {
            o.promotion(tier, blocks, bytes, nanos, outcome);
        }
    }

    @Override
    public void recovery(int tier, long blocks, long discarded, long nanos) {
        for (CacheObserver o : all) {
            o.recovery(tier, blocks, discarded, nanos);
        }
    }

    @Override
    public void deviceError(int tier, String device, String operation, Outcome outcome, String error) {
        for (CacheObserver o : all) {
            o.deviceError(tier, device, operation, outcome, error);
        }
    }
}
