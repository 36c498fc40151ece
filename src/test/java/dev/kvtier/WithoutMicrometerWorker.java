package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;

/** Child of {@link WithoutMicrometerTest}: a cache's whole life, then proof Micrometer is absent. Args: SSD file. */
public final class WithoutMicrometerWorker {
    private WithoutMicrometerWorker() {
    }

    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        BlockKey[] keys = Namespace.builder("no-micrometer").blockTokens(16).build().keysFromHashes(new long[] {1, 2, 3, 4});
        ByteBuffer[] buffers = new ByteBuffer[keys.length];
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = ByteBuffer.allocateDirect(4096);
        }
        try (KvTierCache cache = open(file)) {
            cache.store(keys, buffers);
            cache.flush(Duration.ofSeconds(30));
        }
        int loaded;
        try (KvTierCache cache = open(file)) {
            loaded = cache.load(cache.match(keys), buffers).join();
            cache.stats().toString();
        }
        try {
            Class.forName("io.micrometer.core.instrument.MeterRegistry");
            System.out.println("Micrometer is on the class path");
        } catch (ClassNotFoundException expected) {
            System.out.println("loaded " + loaded + " of " + keys.length + "; no Micrometer");
        }
    }

    private static KvTierCache open(Path file) {
        return KvTierCache.builder().blockTokens(16).blockBytes(4096).dramCapacityBytes(8L * 4096)
                .localSsd(file, 1 << 20).build();
    }
}
