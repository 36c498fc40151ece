package dev.kvtier.replay;

import dev.kvtier.PrefillModel;
import java.net.URI;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One replay's cache: policy, capacity per tier in blocks (0: tier absent), block size in
 * tokens and bytes, where the SSD file goes, which NBD export the remote tier uses, the
 * prefill model that turns hits into seconds saved, and whether costaware weighs its hits by
 * that model ({@code KvTierCacheBuilder.prefillModel}; its runs are then named
 * {@code costaware-prefill}).
 */
public record ReplayConfig(ReplayPolicy policy, long dramBlocks, long ssdBlocks, long remoteBlocks, int blockTokens,
        int blockBytes, Path workDir, URI remoteUri, PrefillModel prefill, boolean weighByPrefill) {

    public ReplayConfig {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(prefill, "prefill");
        if (dramBlocks < 1) {
            throw new IllegalArgumentException("replay needs at least one DRAM block, was " + dramBlocks);
        }
        if (ssdBlocks < 0 || remoteBlocks < 0) {
            throw new IllegalArgumentException("tier capacities must be >= 0 blocks: ssd " + ssdBlocks + ", remote "
                    + remoteBlocks);
        }
        if (blockTokens < 1 || blockBytes < 16) {
            throw new IllegalArgumentException("replay needs blockTokens >= 1 and blockBytes >= 16, was " + blockTokens
                    + " and " + blockBytes);
        }
        if (ssdBlocks > 0 && workDir == null) {
            throw new IllegalArgumentException("an SSD tier needs a work directory");
        }
        if (remoteBlocks > 0 && remoteUri == null) {
            throw new IllegalArgumentException("--remote-blocks needs --remote-uri nbd://HOST:PORT/EXPORT");
        }
    }

    /** The same replay with other capacities. */
    public ReplayConfig withCapacity(long dram, long ssd, long remote) {
        return new ReplayConfig(policy, dram, ssd, remote, blockTokens, blockBytes, workDir, remoteUri, prefill,
                weighByPrefill);
    }

    /** The same replay under another policy. */
    public ReplayConfig withPolicy(ReplayPolicy p) {
        return new ReplayConfig(p, dramBlocks, ssdBlocks, remoteBlocks, blockTokens, blockBytes, workDir, remoteUri,
                prefill, weighByPrefill);
    }
}
