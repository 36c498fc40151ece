package dev.kvtier;

import java.nio.file.Path;

/** A validated cache configuration, as the builder hands it to the engine. */
record CacheConfig(int blockTokens, int blockBytes, long dramCapacityBytes, Path ssdPath, long ssdCapacityBytes,
        Compression ssdCompression, boolean ssdDirectIo, boolean reinitializeDevices, double demoteAhead) {

    boolean hasSsd() {
        return ssdPath != null;
    }
}
