package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.DType;
import dev.kvtier.key.Namespace;
import java.nio.ByteOrder;

/**
 * The payload layout of one kvtier block holding Jlama KV, and the namespace that names it.
 *
 * <p>A block covers {@code blockTokens} consecutive prompt positions {@code [b*B, (b+1)*B)} and
 * holds, for every layer, the keys then the values of those positions, each position a row of
 * {@code kvLength = kvHeads * headSize} elements in Jlama's working dtype, native byte order
 * (little-endian on x86-64 and AArch64), with no header and no padding:
 *
 * <pre>
 *   [layer 0..L)[k|v][token 0..B)[kv_dim 0..kvLength)        element = dtype (F32: 4 bytes)
 *   offset(layer, kv, token, j) = (((layer * 2 + kv) * B + token) * kvLength + j) * dtypeBytes
 *   blockBytes = L * 2 * B * kvLength * dtypeBytes
 * </pre>
 *
 * Keys are stored after RoPE, exactly as Jlama keeps them in its {@code KvBuffer}, so a block is
 * valid only at the positions it was computed for; the chained keys guarantee that (block
 * {@code b} of a chain is always positions {@code [b*B, (b+1)*B)}).
 *
 * <p>Everything that changes these bytes is in the namespace: model id, weights fingerprint, KV
 * dtype, block tokens (kvtier fields), and the layout itself (layers, KV heads, head size, byte
 * order, RoPE applied, and this format's version) as kvtier's layout descriptor
 * ({@code Namespace.Builder.layout}), which is part of the namespace's fingerprint and printed by
 * its {@code toString}. A block written under another layout has another namespace, so other
 * keys: it is never matched, and a device slot holding it fails kvtier's namespace check.
 */
public record KvLayout(int layers, int kvHeads, int headSize, int blockTokens, DType dtype) {
    /** Version of the byte layout described above. */
    public static final int FORMAT = 1;

    public KvLayout {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("Jlama keeps KV in F32 or BF16, not " + dtype);
        }
        if (layers < 1 || kvHeads < 1 || headSize < 1 || blockTokens < 1) {
            throw new IllegalArgumentException("bad layout " + this);
        }
    }

    /** The layout of a single-node Jlama model's KV buffer at {@code blockTokens} tokens per block. */
    public static KvLayout of(Config c, DType workingDType, int blockTokens) {
        if (c.dctx().kvSegmentLength != c.kvLength || c.dctx().numberOfLayers != c.numberOfLayers) {
            throw new IllegalArgumentException("a model split across nodes keeps a shard of the KV; not supported here");
        }
        return new KvLayout(c.numberOfLayers, c.numberOfKeyValueHeads, c.headSize, blockTokens, workingDType);
    }

    public int kvLength() {
        return kvHeads * headSize;
    }

    /** Bytes of one position's K (or V) row in one layer. */
    public int rowBytes() {
        return kvLength() * dtype.size();
    }

    /** Bytes of one (layer, k|v) run of a block: {@code B} rows. */
    public int runBytes() {
        return blockTokens * rowBytes();
    }

    public int blockBytes() {
        return Math.multiplyExact(layers * 2, runBytes());
    }

    /** Offset in a block of the run of {@code layer}'s keys ({@code kv} 0) or values ({@code kv} 1). */
    public long runOffset(int layer, int kv) {
        return (long) (layer * 2 + kv) * runBytes();
    }

    public String kvDtypeName() {
        return dtype == DType.F32 ? "f32" : "bf16";
    }

    /** The layout in words: the namespace's layout descriptor. */
    public String descriptor() {
        return "jlama-kv/" + FORMAT + ":[layer][k|v][token][kv_dim];layers=" + layers + ";kvHeads=" + kvHeads
                + ";headSize=" + headSize + ";blockTokens=" + blockTokens + ";dtype=" + kvDtypeName()
                + ";order=" + (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? "le" : "be") + ";rope=applied";
    }

    /** The kvtier namespace of this layout's blocks for a model and its weights. */
    public Namespace namespace(String modelId, String weightsFingerprint) {
        return Namespace.builder(modelId)
                .weightsFingerprint(weightsFingerprint)
                .kvDtype(kvDtypeName())
                .layout(descriptor())
                .blockTokens(blockTokens)
                .build();
    }
}
