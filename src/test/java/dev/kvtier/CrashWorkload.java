package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The prompts of the crash test: a few namespaces, each with a shared system prefix and many
 * conversations that grow by turns. Every prompt is a prefix of one of {@link #chains()}, so the
 * test can look up everything a worker could ever have stored.
 */
final class CrashWorkload {
    static final int NAMESPACES = 3;
    static final int CONVERSATIONS = 40;
    static final int SYSTEM_BLOCKS = 3;
    static final int TURNS = 4;
    static final int BLOCKS_PER_TURN = 2;
    static final int MAX_BLOCKS = SYSTEM_BLOCKS + TURNS * BLOCKS_PER_TURN;

    private final Namespace[] namespaces = new Namespace[NAMESPACES];
    private final BlockKey[][][] chains = new BlockKey[NAMESPACES][CONVERSATIONS][];
    private final Random rnd;

    CrashWorkload(long seed) {
        rnd = new Random(seed);
        for (int n = 0; n < NAMESPACES; n++) {
            namespaces[n] = SsdFixtures.namespace("crash-model-" + n);
            for (int c = 0; c < CONVERSATIONS; c++) {
                long[] hashes = new long[MAX_BLOCKS];
                for (int i = 0; i < MAX_BLOCKS; i++) {
                    hashes[i] = i < SYSTEM_BLOCKS ? 7_000 + i : c * 1_000L + i;
                }
                chains[n][c] = namespaces[n].keysFromHashes(hashes);
            }
        }
    }

    /** The next prompt: a skewed choice of conversation, a random turn. */
    BlockKey[] next() {
        int n = rnd.nextInt(NAMESPACES);
        int c = Math.min(rnd.nextInt(CONVERSATIONS), rnd.nextInt(CONVERSATIONS));
        int turn = rnd.nextInt(TURNS);
        return java.util.Arrays.copyOf(chains[n][c], SYSTEM_BLOCKS + (turn + 1) * BLOCKS_PER_TURN);
    }

    /** Every full conversation; every prompt is a prefix of one of these. */
    List<BlockKey[]> chains() {
        List<BlockKey[]> all = new ArrayList<>();
        for (BlockKey[][] byNs : chains) {
            all.addAll(List.of(byNs));
        }
        return all;
    }
}
