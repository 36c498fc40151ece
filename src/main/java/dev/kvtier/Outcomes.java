package dev.kvtier;

import dev.kvtier.metrics.CacheObserver.Outcome;
import dev.kvtier.tier.SlotTier.ReadStatus;

/** The observers' outcome of a device read's status. */
final class Outcomes {
    private Outcomes() {
    }

    /** A seal that does not open is reported as corrupt, as it is counted. */
    static Outcome of(ReadStatus status) {
        return switch (status) {
            case OK -> Outcome.OK;
            case MISMATCH -> Outcome.MISMATCH;
            case CORRUPT, UNAUTHENTIC -> Outcome.CORRUPT;
            case IO_ERROR -> Outcome.IO_ERROR;
        };
    }
}
