package dev.kvtier.examples.jlama;

import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierCacheBuilder;
import dev.kvtier.RemoteTier;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How the example opens kvtier: block size, DRAM, an optional SSD file and an optional remote
 * export. Processes that share an SSD file or an export must open them with the same spec
 * (block size and capacities), which is why it also travels as command-line arguments.
 */
public record CacheSpec(int blockTokens, int blockBytes, long dramBlocks, Path ssd, long ssdBlocks, URI remote,
        long remoteBlocks) {

    public KvTierCache open() {
        KvTierCacheBuilder b = KvTierCache.builder()
                .blockTokens(blockTokens)
                .blockBytes(blockBytes)
                .dramCapacityBytes(dramBlocks * ((blockBytes + 63L) & -64L))
                .flushOnClose(Duration.ofSeconds(30));
        if (ssd != null) {
            b.localSsd(ssd, KvTierCacheBuilder.deviceBytesFor(ssdBlocks, blockBytes));
        }
        if (remote != null) {
            // kvtier's default lookup budget is 100 ms; on a loaded 2-core CI machine reading a
            // chain's set headers may take longer than that, and the tests want every block
            // found (what is not found in time is just not matched). Lookups measured here: 6-26 ms.
            b.remote(RemoteTier.builder(remote, KvTierCacheBuilder.deviceBytesFor(remoteBlocks, blockBytes))
                    .lookupBudget(Duration.ofSeconds(1)).build());
        }
        return b.build();
    }

    public List<String> toArgs() {
        List<String> a = new ArrayList<>(List.of("--block-tokens", "" + blockTokens, "--block-bytes", "" + blockBytes,
                "--dram-blocks", "" + dramBlocks));
        if (ssd != null) {
            a.addAll(List.of("--ssd", ssd.toString(), "--ssd-blocks", "" + ssdBlocks));
        }
        if (remote != null) {
            a.addAll(List.of("--remote", remote.toString(), "--remote-blocks", "" + remoteBlocks));
        }
        return a;
    }

    /** Reads the options {@link #toArgs()} writes, ignoring the others. */
    public static CacheSpec fromArgs(String[] args) {
        int bt = 0;
        int bb = 0;
        long dram = 0;
        Path ssd = null;
        long ssdBlocks = 0;
        URI remote = null;
        long remoteBlocks = 0;
        for (int i = 0; i + 1 < args.length; i++) {
            switch (args[i]) {
                case "--block-tokens" -> bt = Integer.parseInt(args[++i]);
                case "--block-bytes" -> bb = Integer.parseInt(args[++i]);
                case "--dram-blocks" -> dram = Long.parseLong(args[++i]);
                case "--ssd" -> ssd = Path.of(args[++i]);
                case "--ssd-blocks" -> ssdBlocks = Long.parseLong(args[++i]);
                case "--remote" -> remote = URI.create(args[++i]);
                case "--remote-blocks" -> remoteBlocks = Long.parseLong(args[++i]);
                default -> {
                }
            }
        }
        return new CacheSpec(bt, bb, dram, ssd, ssdBlocks, remote, remoteBlocks);
    }
}
