package dev.kvtier.cli;

import dev.kvtier.KvTierCache;
import dev.kvtier.PrefixMatch;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier bench dram}: DRAM-tier load and store bandwidth beside a plain memcpy of the
 * same blocks between the same kind of off-heap buffers, in the same run.
 *
 * <p>Each round copies {@code --blocks} blocks three ways, interleaved so that all three see
 * the same machine noise: memcpy (direct-buffer bulk put, one memmove per block) from source to
 * destination buffers; {@code store} of a fresh chain from the source buffers (the cache holds
 * exactly one chain, so every store also evicts the previous one, as in steady state); and
 * {@code match} + {@code load} of that chain into the destination buffers. The reported figures
 * are medians over the rounds after the warm-up rounds.
 */
@Command(name = "dram", mixinStandardHelpOptions = true,
        description = "DRAM load/store bandwidth against memcpy; prints one JSON object last.")
final class DramBench implements Callable<Integer> {
    @Option(names = "--block-bytes", defaultValue = "2097152", description = "Bytes per block (default ${DEFAULT-VALUE}).")
    int blockBytes;

    @Option(names = "--blocks", defaultValue = "32", description = "Blocks per round (default ${DEFAULT-VALUE}).")
    int blocks;

    @Option(names = "--rounds", defaultValue = "30", description = "Measured rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "5", description = "Warm-up rounds (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--json", description = "Print only the JSON line.")
    boolean jsonOnly;

    @Override
    public Integer call() {
        if (blockBytes < 1 || blocks < 1 || rounds < 1 || warmup < 0) {
            throw new IllegalArgumentException("kvtier bench dram: --block-bytes, --blocks and --rounds must be positive,"
                    + " --warmup not negative");
        }
        Namespace ns = Namespace.builder("bench/dram").blockTokens(16).build();
        BlockKey[][] chains = {ns.keysFromHashes(ids(0)), ns.keysFromHashes(ids(1))};
        ByteBuffer[] src = buffers(true);
        ByteBuffer[] dst = buffers(false);
        long roundBytes = (long) blocks * blockBytes;
        double[] memcpy = new double[rounds];
        double[] load = new double[rounds];
        double[] store = new double[rounds];
        long capacity = (long) blocks * ((blockBytes + 63) & -64);
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                .dramCapacityBytes(capacity).build()) {
            PrefixMatch match = new PrefixMatch();
            for (int r = -warmup; r < rounds; r++) {
                BlockKey[] chain = chains[(r + warmup) & 1];
                long t0 = System.nanoTime();
                for (int i = 0; i < blocks; i++) {
                    dst[i].duplicate().put(src[i].duplicate());
                }
                long t1 = System.nanoTime();
                int stored = cache.store(chain, src);
                long t2 = System.nanoTime();
                cache.match(chain, match);
                int loaded = cache.load(match, dst).join();
                long t3 = System.nanoTime();
                if (stored != blocks || loaded != blocks || !dst[blocks - 1].equals(src[blocks - 1])) {
                    throw new IllegalStateException("round " + r + ": stored " + stored + ", loaded " + loaded
                            + " of " + blocks + " blocks, or bytes differ");
                }
                if (r >= 0) {
                    memcpy[r] = Format.gibPerSecond(roundBytes, t1 - t0);
                    store[r] = Format.gibPerSecond(roundBytes, t2 - t1);
                    load[r] = Format.gibPerSecond(roundBytes, t3 - t2);
                }
            }
        }
        report(median(memcpy), median(load), median(store));
        return 0;
    }

    private void report(double memcpy, double load, double store) {
        if (!jsonOnly) {
            System.out.printf("kvtier bench dram: %d rounds of %d blocks of %s (medians)%n", rounds, blocks,
                    Format.bytes(blockBytes));
            Format.Table t = new Format.Table();
            t.row("memcpy (baseline)", String.format("%.2f GiB/s", memcpy));
            t.row("load", String.format("%.2f GiB/s  (%.2f of memcpy)", load, load / memcpy));
            t.row("store", String.format("%.2f GiB/s  (%.2f of memcpy)", store, store / memcpy));
            t.print(System.out);
        }
        System.out.println(new Json().put("bench", "dram").put("block_bytes", blockBytes).put("blocks", blocks)
                .put("rounds", rounds).put("memcpy_gib_s", memcpy).put("load_gib_s", load)
                .put("store_gib_s", store).put("load_ratio", load / memcpy).put("store_ratio", store / memcpy));
    }

    private long[] ids(int chain) {
        long[] ids = new long[blocks];
        for (int i = 0; i < blocks; i++) {
            ids[i] = ((long) chain << 32) | i;
        }
        return ids;
    }

    private ByteBuffer[] buffers(boolean random) {
        ByteBuffer[] b = new ByteBuffer[blocks];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < blocks; i++) {
            b[i] = ByteBuffer.allocateDirect(blockBytes);
            while (random && b[i].remaining() >= 8) {
                b[i].putLong(rnd.nextLong());
            }
            b[i].clear();
        }
        return b;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s[s.length / 2];
    }
}
