package dev.kvtier;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/** Block buffers shared by the JMH benchmarks. */
final class BenchBlocks {
    private BenchBlocks() {
    }

    /** {@code n} direct buffers of {@code bytes}, random when {@code random} is given, else zero. */
    static ByteBuffer[] blocks(int n, int bytes, SplittableRandom random) {
        ByteBuffer[] blocks = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            ByteBuffer block = ByteBuffer.allocateDirect(bytes);
            if (random != null) {
                byte[] chunk = new byte[Math.min(bytes, 1 << 16)];
                for (int off = 0; off < bytes; off += chunk.length) {
                    random.nextBytes(chunk);
                    block.put(off, chunk, 0, Math.min(chunk.length, bytes - off));
                }
            }
            blocks[i] = block;
        }
        return blocks;
    }
}
