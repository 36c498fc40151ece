package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import dev.kvtier.BlockSegments;
import dev.kvtier.KvTierCache;
import dev.kvtier.LoadListener;
import dev.kvtier.PrefixMatch;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * kvtier as the prefix cache of a Jlama engine. Per request ({@link #prefill}):
 *
 * <ol>
 *   <li>hash the prompt's token ids into chained kvtier keys, one per full block of
 *       {@link KvLayout#blockTokens()} tokens, in the namespace of the model, its weights, the KV
 *       dtype and the {@link KvLayout layout};</li>
 *   <li>{@code match}: how many leading blocks kvtier keeps (DRAM, SSD or the remote tier);</li>
 *   <li>{@code load} them straight into the request's Jlama {@code KvBuffer}: kvtier's segmented
 *       load ({@code BlockSegments}) copies each (layer, K|V) run of a block from its own memory
 *       into the page rows where Jlama keeps it ({@link KvSegments});</li>
 *   <li>prefill only the rest of the prompt, from the first position not loaded (at least the
 *       last token, whose hidden state gives the first generated token);</li>
 * </ol>
 * and after the first token ({@link #storeNewBlocks}): {@code store} the new full blocks, which
 * kvtier gathers out of the {@code KvBuffer} through the same segments.
 *
 * <p>With {@link StagingBuffers} ({@link #JlamaPrefixCache(JlamaEngine, KvTierCache, String,
 * StagingBuffers)}) it works as before kvtier had segments, to measure what they save: blocks are
 * loaded into one direct buffer per block and scattered into the {@code KvBuffer} by a
 * {@code LoadListener} as each run of leading blocks arrives; new blocks are gathered into the
 * same buffers (indexed by block, as the load fills them) and stored from there.
 *
 * <p>One request at a time per instance; Jlama's model is not thread-safe either.
 */
public final class JlamaPrefixCache {
    private final JlamaEngine engine;
    private final KvTierCache cache;
    private final KvLayout layout;
    private final Namespace namespace;
    private final PrefixMatch match = new PrefixMatch();
    /** Null: segmented loads and stores, no staging copy. */
    private final StagingBuffers staging;
    private final KvSegments segments;
    /** The request being loaded, for {@link #scatterArrived} (one request at a time). */
    private KvBufferCache.KvBuffer loadingInto;
    private int scattered;
    private long scatterNanos;
    /**
     * Hears each growth of the leading run kvtier delivered and scatters the new blocks into the
     * request's {@code KvBuffer}: on the loading thread for DRAM blocks, on an I/O thread for
     * device blocks, one call at a time and all before the load's future completes.
     */
    private final LoadListener scatterArrived = this::scatterArrived;

    /**
     * @param modelId the model's name in the namespace (with the engine's weights fingerprint)
     * @throws IllegalArgumentException if the cache's block size is not this layout's
     */
    public JlamaPrefixCache(JlamaEngine engine, KvTierCache cache, String modelId) {
        this(engine, cache, modelId, null);
    }

    /**
     * As {@link #JlamaPrefixCache(JlamaEngine, KvTierCache, String)}, loading and gathering
     * blocks through {@code staging} and copying them between it and Jlama's {@code KvBuffer}
     * (null: segmented, no staging). Adapters used one after the other may share one.
     */
    public JlamaPrefixCache(JlamaEngine engine, KvTierCache cache, String modelId, StagingBuffers staging) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.cache = Objects.requireNonNull(cache, "cache");
        this.layout = KvLayout.of(engine.config(), engine.model().getWorkingDType(), cache.blockTokens());
        if (cache.blockBytes() != layout.blockBytes()) {
            throw new IllegalArgumentException("the cache keeps blocks of " + cache.blockBytes() + " bytes; this model's "
                    + layout.blockTokens() + "-token blocks are " + layout.blockBytes() + " bytes (" + layout.descriptor() + ")");
        }
        this.namespace = layout.namespace(modelId, engine.weightsFingerprint());
        if (staging != null && staging.blockBytes() != layout.blockBytes()) {
            throw new IllegalArgumentException("staging buffers of " + staging.blockBytes() + " bytes for blocks of "
                    + layout.blockBytes());
        }
        this.staging = staging;
        this.segments = new KvSegments(layout);
    }

    /** Bytes of a block of {@code engine}'s KV at {@code blockTokens} tokens per block: the cache's {@code blockBytes}. */
    public static int blockBytes(JlamaEngine engine, int blockTokens) {
        return KvLayout.of(engine.config(), engine.model().getWorkingDType(), blockTokens).blockBytes();
    }

    public KvLayout layout() {
        return layout;
    }

    public Namespace namespace() {
        return namespace;
    }

    /** What one request's prefill did, and where its time went (nanoseconds). */
    public static final class Prefill {
        /** Hidden state of the prompt's last token (the caller closes it, e.g. via {@link JlamaEngine#greedy}). */
        public AbstractTensor last;
        public BlockKey[] keys;
        public int promptTokens;
        public int matchedBlocks;
        public int loadedBlocks;
        /** Tokens whose KV came from kvtier (loaded blocks × block tokens). */
        public int reusedTokens;
        /** First position prefilled by the engine. */
        public int prefillFrom;
        public int dramBlocks;
        public int ssdBlocks;
        public int remoteBlocks;
        public long hashNanos;
        public long matchNanos;
        /**
         * From {@code load} to its future's completion, when the blocks are in the engine's KV
         * buffer: kvtier's copies into it (segmented), or the reads into the staging buffers and
         * the scatter from there as they arrive ({@link #copyNanos} is part of this).
         */
        public long loadNanos;
        /** With staging buffers, the scatter of the loaded blocks into the engine's KV buffer, within {@link #loadNanos}; else 0. */
        public long copyNanos;
        /** The engine's forward pass over the positions not loaded. */
        public long prefillNanos;

        public long totalNanos() {
            return hashNanos + matchNanos + loadNanos + prefillNanos;
        }
    }

    /**
     * Fills {@code kv} with the KV of {@code prompt}: the longest kept prefix of whole blocks from
     * kvtier, the rest computed by the engine. Returns the last token's hidden state in
     * {@link Prefill#last}.
     */
    public Prefill prefill(int[] prompt, KvBufferCache.KvBuffer kv) {
        Objects.requireNonNull(prompt, "prompt");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        Prefill p = new Prefill();
        p.promptTokens = prompt.length;

        long t0 = System.nanoTime();
        p.keys = namespace.blockKeys(prompt);
        long t1 = System.nanoTime();
        cache.match(p.keys, match);
        p.matchedBlocks = match.hitBlocks();
        p.dramBlocks = match.hitBlocks(Tier.DRAM);
        p.ssdBlocks = match.hitBlocks(Tier.SSD);
        p.remoteBlocks = match.hitBlocks(Tier.REMOTE);
        long t2 = System.nanoTime();
        int loaded = 0;
        if (p.matchedBlocks > 0 && staging == null) {
            segments.bind(kv, p.matchedBlocks);
            loaded = cache.load(match, segments.segmentBytes(), segments, null, null).join();
        } else if (p.matchedBlocks > 0) {
            staging.ensure(p.matchedBlocks);
            loadingInto = kv;
            scattered = 0;
            scatterNanos = 0;
            try {
                loaded = cache.load(match, staging.buffers(), scatterArrived, null).join();
            } finally {
                loadingInto = null;
            }
            if (scattered != loaded) { // the listener heard every block the future reports, before it completed
                throw new IllegalStateException("scattered " + scattered + " of " + loaded + " loaded blocks");
            }
        }
        long t4 = System.nanoTime();
        p.loadedBlocks = loaded;
        p.reusedTokens = loaded * layout.blockTokens();
        // The last prompt token always goes through the model: its hidden state gives the first
        // generated token. When every block was loaded its KV is recomputed (the same bytes).
        p.prefillFrom = Math.min(p.reusedTokens, prompt.length - 1);
        p.last = engine.prefill(prompt, p.prefillFrom, prompt.length, kv);
        long t5 = System.nanoTime();
        p.hashNanos = t1 - t0;
        p.matchNanos = t2 - t1;
        p.loadNanos = t4 - t2;
        p.copyNanos = scatterNanos;
        p.prefillNanos = t5 - t4;
        return p;
    }

    /**
     * Stores the prompt's full blocks that did not come from kvtier: gathers their KV out of
     * {@code kv} (which {@link #prefill} filled) and hands them to kvtier. Returns the blocks newly
     * stored.
     */
    public int storeNewBlocks(Prefill p, KvBufferCache.KvBuffer kv) {
        int from = p.loadedBlocks;
        int count = p.keys.length - from;
        if (count <= 0) {
            return 0;
        }
        if (staging == null) {
            segments.bind(kv, p.keys.length);
            return cache.store(p.keys, segments.segmentBytes(), segments, from, count);
        }
        staging.ensure(p.keys.length);
        gather(kv, from, count);
        return cache.store(p.keys, staging.buffers(), from, count); // block i in buffers[i], as load fills them
    }

    /** kvtier's {@link LoadListener}: blocks {@code [0, leading)} are in the staging buffers. */
    private void scatterArrived(int leading) {
        long t0 = System.nanoTime();
        scatter(loadingInto, scattered, leading - scattered);
        scattered = leading;
        scatterNanos += System.nanoTime() - t0;
    }

    /** Copies blocks {@code [from, from+count)} from the staging buffers into {@code kv}. */
    private void scatter(KvBufferCache.KvBuffer kv, int from, int count) {
        copy(kv, from, count, true);
    }

    /** Copies blocks {@code [from, from+count)} from {@code kv} into the staging buffers. */
    private void gather(KvBufferCache.KvBuffer kv, int from, int count) {
        copy(kv, from, count, false);
    }

    /*
     * Jlama's KvBuffer is paged: a page holds [layersPerPage][k|v][contextPerPage][kvLength], so one
     * layer's K (or V) rows are contiguous within a page, and a block's run of B rows may straddle
     * two pages. getKeyTensorsUptoPosition(layer, p) returns that layer's K slice of every page up
     * to position p (creating missing pages), each [contextPerPage, kvLength].
     */
    private void copy(KvBufferCache.KvBuffer kv, int fromBlock, int count, boolean intoEngine) {
        int b = layout.blockTokens();
        int row = layout.rowBytes();
        int lastPos = (fromBlock + count) * b - 1;
        for (int layer = 0; layer < layout.layers(); layer++) {
            for (int kind = 0; kind < 2; kind++) {
                AbstractTensor[] pages = kind == 0 ? kv.getKeyTensorsUptoPosition(layer, lastPos)
                        : kv.getValTensorsUptoPosition(layer, lastPos);
                int perPage = pages[0].shape().first();
                long runOffset = layout.runOffset(layer, kind);
                for (int blk = fromBlock; blk < fromBlock + count; blk++) {
                    MemorySegment block = staging.segment(blk);
                    int pos = blk * b;
                    int done = 0;
                    while (done < b) {
                        int page = (pos + done) / perPage;
                        int inPage = (pos + done) % perPage;
                        int rows = Math.min(b - done, perPage - inPage);
                        MemorySegment seg = pages[page].getMemorySegment();
                        long blockOff = runOffset + (long) done * row;
                        long pageOff = (long) inPage * row;
                        if (intoEngine) {
                            MemorySegment.copy(block, blockOff, seg, pageOff, (long) rows * row);
                        } else {
                            MemorySegment.copy(seg, pageOff, block, blockOff, (long) rows * row);
                        }
                        done += rows;
                    }
                }
            }
        }
    }

    /**
     * The request's {@code KvBuffer} as kvtier's {@link BlockSegments}. A block's payload is
     * {@code [layer][k|v][token][kv_dim]}; Jlama keeps each (layer, K|V) in pages of
     * {@code perPage} positions, rows of {@code kvLength} contiguous within a page. A segment is
     * {@code gcd(B, perPage)} rows, so none straddles a page: segment {@code s} of block {@code b}
     * is chunk {@code s % chunks} of run {@code s / chunks} (run = layer * 2 + k|v), at position
     * {@code b * B + chunk * rows} of that run's pages. The page addresses are taken once per
     * request ({@link #bind}); {@link #address} is arithmetic only.
     */
    static final class KvSegments implements BlockSegments {
        private final KvLayout layout;
        private long[][] pageAddress = new long[0][];
        private int perPage;
        private int rows;
        private int chunks;

        KvSegments(KvLayout layout) {
            this.layout = layout;
        }

        /** Takes the page addresses of {@code kv} for blocks {@code [0, blocks)} (creating missing pages). */
        void bind(KvBufferCache.KvBuffer kv, int blocks) {
            int lastPos = blocks * layout.blockTokens() - 1;
            int runs = layout.layers() * 2;
            if (pageAddress.length != runs) {
                pageAddress = new long[runs][];
            }
            for (int layer = 0; layer < layout.layers(); layer++) {
                for (int kind = 0; kind < 2; kind++) {
                    AbstractTensor[] pages = kind == 0 ? kv.getKeyTensorsUptoPosition(layer, lastPos)
                            : kv.getValTensorsUptoPosition(layer, lastPos);
                    long[] a = pageAddress[layer * 2 + kind];
                    if (a == null || a.length < pages.length) {
                        a = pageAddress[layer * 2 + kind] = new long[pages.length];
                    }
                    for (int i = 0; i < pages.length; i++) {
                        MemorySegment seg = pages[i].getMemorySegment();
                        if (!seg.isNative()) {
                            throw new IllegalStateException("Jlama keeps this KvBuffer on the heap; kvtier needs native memory");
                        }
                        a[i] = seg.address();
                    }
                    perPage = pages[0].shape().first();
                }
            }
            rows = gcd(layout.blockTokens(), perPage);
            chunks = layout.blockTokens() / rows;
        }

        int segmentBytes() {
            return rows * layout.rowBytes();
        }

        @Override
        public long address(int block, int segment) {
            int run = segment / chunks;
            int pos = block * layout.blockTokens() + (segment % chunks) * rows;
            return pageAddress[run][pos / perPage] + (long) (pos % perPage) * layout.rowBytes();
        }

        private static int gcd(int a, int b) {
            return b == 0 ? a : gcd(b, a % b);
        }
    }
}
