package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.metrics.CacheObserver;
import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.metrics.Observers;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Device errors: every one is observed; each device logs at most once per window. */
class DeviceErrorsTest {
    @Test
    void eachDeviceLogsOncePerWindowAndEveryErrorIsObserved() throws InterruptedException {
        Observers observers = new Observers();
        List<String> seen = new ArrayList<>();
        observers.add(new CacheObserver() {
            @Override
            public void deviceError(int tier, String device, String operation, Outcome outcome, String error) {
                seen.add(device + " " + operation + " " + outcome.label());
            }
        });
        long window = TimeUnit.MILLISECONDS.toNanos(300);
        DeviceErrors errors = new DeviceErrors(observers, window);
        long t0 = System.nanoTime();
        assertTrue(errors.report(1, "a", "read", Outcome.IO_ERROR, "boom"), "the first error of a device is logged");
        assertTrue(errors.report(2, "b", "write", Outcome.IO_ERROR, "boom"), "another device has its own window");
        boolean second = errors.report(1, "a", "read", Outcome.CORRUPT, "bad");
        if (System.nanoTime() - t0 < window) {
            assertFalse(second, "a second error of the device within the window is only counted");
        }
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(window) + 50);
        assertTrue(errors.report(1, "a", "read", Outcome.IO_ERROR, "boom"), "after the window, logged again");
        assertEquals(List.of("a read io_error", "b write io_error", "a read corrupt", "a read io_error"), seen);
    }
}
