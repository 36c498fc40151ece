package dev.kvtier.events;

import dev.kvtier.metrics.CacheObserver;
import jdk.jfr.Event;
import jdk.jfr.EventType;
import jdk.jfr.FlightRecorder;

/**
 * Turns what the engine observes into JFR events ({@code dev.kvtier.Load}, {@code .Store},
 * {@code .Demotion}, {@code .Promotion}, {@code .Recovery}, {@code .DeviceError}), all disabled
 * by default. Each call first asks its event type's {@link Gate} whether a recording wants it,
 * and builds the event only then: with no recording, a call reads two fields and allocates
 * nothing.
 */
final class JfrObserver implements CacheObserver {
    private final Gate load = new Gate(LoadEvent.class);
    private final Gate store = new Gate(StoreEvent.class);
    private final Gate demotion = new Gate(DemotionEvent.class);
    private final Gate promotion = new Gate(PromotionEvent.class);
    private final Gate recovery = new Gate(RecoveryEvent.class);
    private final Gate deviceError = new Gate(DeviceErrorEvent.class);

    /**
     * Whether a recording has enabled one event type. Until the Flight Recorder is initialized
     * (no recording ever started), nothing is enabled and the type is not even looked up; after,
     * the type is looked up once (registering it) and its enabled flag read on each call.
     */
    private static final class Gate {
        private final Class<? extends Event> type;
        private volatile EventType eventType;

        Gate(Class<? extends Event> type) {
            this.type = type;
        }

        boolean open() {
            if (!FlightRecorder.isInitialized()) {
                return false;
            }
            EventType t = eventType;
            if (t == null) {
                t = EventType.getEventType(type);
                eventType = t;
            }
            return t.isEnabled();
        }
    }

    @Override
    public void load(int tier, int blocks, int delivered, long bytes, long nanos, Outcome outcome) {
        if (load.open()) {
            LoadEvent e = new LoadEvent();
            e.delivered = delivered;
            e.commit(CacheObserver.tierName(tier), blocks, bytes, nanos, outcome.label());
        }
    }

    @Override
    public void store(int blocks, int stored, long bytes, long nanos) {
        if (store.open()) {
            StoreEvent e = new StoreEvent();
            e.stored = stored;
            e.commit(CacheObserver.tierName(0), blocks, bytes, nanos,
                    (stored == blocks ? Outcome.OK : Outcome.PARTIAL).label());
        }
    }

    @Override
    public void demotion(int tier, long bytes, long nanos, Outcome outcome) {
        if (demotion.open()) {
            new DemotionEvent().commit(CacheObserver.tierName(tier), 1, bytes, nanos, outcome.label());
        }
    }

    @Override
    public void promotion(int tier, int blocks, long bytes, long nanos, Outcome outcome) {
        if (promotion.open()) {
            new PromotionEvent().commit(CacheObserver.tierName(tier), blocks, bytes, nanos, outcome.label());
        }
    }

    @Override
    public void recovery(int tier, long blocks, long discarded, long nanos) {
        if (recovery.open()) {
            RecoveryEvent e = new RecoveryEvent();
            e.discarded = discarded;
            e.commit(CacheObserver.tierName(tier), (int) Math.min(blocks, Integer.MAX_VALUE), 0, nanos,
                    Outcome.OK.label());
        }
    }

    @Override
    public void deviceError(int tier, String device, String operation, Outcome outcome, String error) {
        if (deviceError.open()) {
            DeviceErrorEvent e = new DeviceErrorEvent();
            e.device = device;
            e.operation = operation;
            e.error = error;
            e.commit(CacheObserver.tierName(tier), 0, 0, 0, outcome.label());
        }
    }
}
