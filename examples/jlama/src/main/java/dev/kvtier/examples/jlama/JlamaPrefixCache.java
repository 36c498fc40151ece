package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
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
 *   <li>{@code load} them into staging buffers (one direct buffer per block) and, as each run of
 *       leading blocks arrives (kvtier's {@code LoadListener}), scatter their K and V of every
 *       layer into the request's Jlama {@code KvBuffer}, while later blocks are still read;</li>
 *   <li>prefill only the rest of the prompt, from the first position not loaded (at least the
 *       last token, whose hidden state gives the first generated token);</li>
 * </ol>
 * and after the first token ({@link #storeNewBlocks}): gather the new full blocks' KV out of the
 * {@code KvBuffer} into the same staging buffers (indexed by block, as the load fills them) and
 * {@code store} them.
 *
 * <p>One request at a time per instance (the staging buffers are reused); Jlama's model is not
 * thread-safe either.
 */
public final class JlamaPrefixCache {
    private final JlamaEngine engine;
    private final KvTierCache cache;
    private final KvLayout layout;
    private final Namespace namespace;
    private final PrefixMatch match = new PrefixMatch();
    private final StagingBuffers staging;
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
     * blocks through {@code staging} (null: buffers for the model's whole context, allocated
     * now). Adapters used one after the other may share one.
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
        this.staging = staging != null ? staging
                : new StagingBuffers(layout.blockBytes(), engine.config().contextLength / layout.blockTokens());
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
         * From {@code load} to its future's completion: the blocks are read into the staging
         * buffers and scattered into the engine's KV buffer as they arrive ({@link #copyNanos} is
         * part of this).
         */
        public long loadNanos;
        /** The scatter of the loaded blocks into the engine's KV buffer, within {@link #loadNanos}. */
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
        if (p.matchedBlocks > 0) {
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
}
