package dev.kvtier;

import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.SlotTier.ReadStatus;

/** The observers' outcome of a device read's status. */
final class Outcomes {
    private Outcomes() {
    }

    static Outcome of(ReadStatus status) {
        switch (status) {
            case OK:
                return Outcome.OK;
            case MISMATCH:
                return Outcome.MISMATCH;
            case CORRUPT:
                return Outcome.CORRUPT;
            default:
                return Outcome.IO_ERROR;
        }
    }
}
