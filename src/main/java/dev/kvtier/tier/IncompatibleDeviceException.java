package dev.kvtier.tier;

import java.io.IOException;

/** A device holds kvtier data of another format or geometry, or sealed otherwise: it was read, not written. */
public final class IncompatibleDeviceException extends IOException {
    private static final long serialVersionUID = 1L;

    public IncompatibleDeviceException(String message) {
        super(message);
    }
}
