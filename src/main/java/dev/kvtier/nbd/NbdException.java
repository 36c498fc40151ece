package dev.kvtier.nbd;

import java.io.IOException;

/** The NBD server refused something, answered outside the protocol, or did not answer in time. */
public final class NbdException extends IOException {
    public NbdException(String message) {
        super(message);
    }

    public NbdException(String message, Throwable cause) {
        super(message, cause);
    }
}
