package dev.kvtier.events;

import dev.kvtier.metrics.Observers;

/**
 * Adds the JFR observer to a cache's observers when the runtime has the {@code jdk.jfr} module.
 * This class names no {@code jdk.jfr} type, so a runtime without the module loads it safely.
 */
public final class JfrEvents {
    private static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.jfr").isPresent();

    private JfrEvents() {
    }

    /** Makes {@code observers} emit kvtier's JFR events (disabled until a recording enables them). */
    public static void attach(Observers observers) {
        if (AVAILABLE) {
            observers.add(new JfrObserver());
        }
    }
}
