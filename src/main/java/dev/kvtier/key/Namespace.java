package dev.kvtier.key;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Objects;

/**
 * Everything that makes two equal token prefixes produce different KV: model id and weights
 * fingerprint, KV dtype and layout version, tensor-parallel rank and size, LoRA adapter, tenant
 * salt, the block size in tokens, and the layout descriptor. Its 128-bit fingerprint is the root
 * of every key chain made in it, so two namespaces that differ in any field never share a block.
 *
 * <p>Fingerprint: SHA-256 of {@code "kvtier.namespace.v1"} followed by each field in the order
 * above, strings as a 4-byte big-endian length and their UTF-8 bytes, integers as 4 big-endian
 * bytes; the first 128 bits. The layout descriptor, last, is hashed only when it is not empty:
 * the fingerprint of a namespace without one does not depend on the field, and, as every other
 * field is fixed-size or length-prefixed, no namespace without a descriptor hashes the same
 * bytes as one with. Stable across JVMs, processes, machines and kvtier versions (the tests pin
 * published vectors).
 */
public final class Namespace {
    private static final String DOMAIN = "kvtier.namespace.v1";

    private final String modelId;
    private final String weightsFingerprint;
    private final String kvDtype;
    private final int layoutVersion;
    private final int tpRank;
    private final int tpSize;
    private final String loraAdapter;
    private final String tenantSalt;
    private final int blockTokens;
    private final String layout;
    private final long rootHi;
    private final long rootLo;

    private Namespace(Builder b) {
        modelId = b.modelId;
        weightsFingerprint = b.weightsFingerprint;
        kvDtype = b.kvDtype;
        layoutVersion = b.layoutVersion;
        tpRank = b.tpRank;
        tpSize = b.tpSize;
        loraAdapter = b.loraAdapter;
        tenantSalt = b.tenantSalt;
        blockTokens = b.blockTokens;
        layout = b.layout;
        byte[] d = fingerprint();
        rootHi = readLong(d, 0);
        rootLo = readLong(d, 8);
    }

    /** Starts a namespace for a model; every other field has a documented default. */
    public static Builder builder(String modelId) {
        return new Builder(modelId);
    }

    public String modelId() {
        return modelId;
    }

    public String weightsFingerprint() {
        return weightsFingerprint;
    }

    public String kvDtype() {
        return kvDtype;
    }

    public int layoutVersion() {
        return layoutVersion;
    }

    public int tpRank() {
        return tpRank;
    }

    public int tpSize() {
        return tpSize;
    }

    public String loraAdapter() {
        return loraAdapter;
    }

    public String tenantSalt() {
        return tenantSalt;
    }

    /** Tokens per block (B). */
    public int blockTokens() {
        return blockTokens;
    }

    /**
     * The layout descriptor: how a block's bytes are arranged (for example
     * {@code "[layer][k|v][token][kv_dim];layers=32;kvHeads=8;headSize=128;order=le;rope=applied"}),
     * in words the server chooses; empty when none was given.
     */
    public String layout() {
        return layout;
    }

    /** High 64 bits of the namespace fingerprint, the parent of every first block. */
    public long rootHi() {
        return rootHi;
    }

    /** Low 64 bits of the namespace fingerprint. */
    public long rootLo() {
        return rootLo;
    }

    /** One key per full block of {@code tokens}; a partial trailing block gets none. */
    public BlockKey[] blockKeys(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        return blockKeys(null, tokens, 0, tokens.length);
    }

    /** One key per full block of {@code tokens[offset, offset+length)}, the first on the root. */
    public BlockKey[] blockKeys(int[] tokens, int offset, int length) {
        return blockKeys(null, tokens, offset, length);
    }

    /**
     * Continues a chain: keys for the full blocks of {@code tokens[offset, offset+length)},
     * the first a child of {@code parent} (or of the namespace root when {@code parent} is null).
     */
    public BlockKey[] blockKeys(BlockKey parent, int[] tokens, int offset, int length) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.checkFromIndexSize(offset, length, tokens.length);
        checkParent(parent);
        BlockKey[] keys = new BlockKey[length / blockTokens];
        ChainHasher h = ChainHasher.get();
        BlockKey prev = parent;
        for (int i = 0; i < keys.length; i++) {
            long pHi = prev == null ? rootHi : prev.hi();
            long pLo = prev == null ? rootLo : prev.lo();
            h.hashTokens(pHi, pLo, tokens, offset + i * blockTokens, blockTokens);
            prev = keys[i] = new BlockKey(this, h.hi(), h.lo(), pHi, pLo, position(prev));
        }
        return keys;
    }

    /**
     * Keys from block hashes the caller already has (one id per block, in prompt order, each
     * id standing for its block's tokens), chained exactly like token keys.
     */
    public BlockKey[] keysFromHashes(long[] blockHashes) {
        Objects.requireNonNull(blockHashes, "blockHashes");
        BlockKey[] keys = new BlockKey[blockHashes.length];
        BlockKey prev = null;
        for (int i = 0; i < keys.length; i++) {
            prev = keys[i] = keyFromHash(prev, blockHashes[i]);
        }
        return keys;
    }

    /** The key of the block with caller hash {@code blockHash} under {@code parent} (null: root). */
    public BlockKey keyFromHash(BlockKey parent, long blockHash) {
        checkParent(parent);
        long pHi = parent == null ? rootHi : parent.hi();
        long pLo = parent == null ? rootLo : parent.lo();
        ChainHasher h = ChainHasher.get();
        h.hashExternal(pHi, pLo, blockHash);
        return new BlockKey(this, h.hi(), h.lo(), pHi, pLo, position(parent));
    }

    private static int position(BlockKey parent) {
        return parent == null ? 0 : parent.position() + 1;
    }

    private void checkParent(BlockKey parent) {
        if (parent != null && !parent.namespace().equals(this)) {
            throw new IllegalArgumentException("parent key " + parent.toHex()
                    + " belongs to another namespace (" + parent.namespace() + ")");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Namespace && ((Namespace) o).rootHi == rootHi
                && ((Namespace) o).rootLo == rootLo;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(rootHi ^ rootLo);
    }

    @Override
    public String toString() {
        return "Namespace[model=" + modelId + ", weights=" + weightsFingerprint + ", dtype=" + kvDtype
                + ", layout=" + layoutVersion + ", tp=" + tpRank + "/" + tpSize + ", lora="
                + (loraAdapter.isEmpty() ? "-" : loraAdapter) + ", tenant="
                + (tenantSalt.isEmpty() ? "-" : "(salted)") + ", blockTokens=" + blockTokens
                + (layout.isEmpty() ? "" : ", layoutDescriptor=" + layout) + "]";
    }

    private byte[] fingerprint() {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        putString(md, DOMAIN);
        putString(md, modelId);
        putString(md, weightsFingerprint);
        putString(md, kvDtype);
        putInt(md, layoutVersion);
        putInt(md, tpRank);
        putInt(md, tpSize);
        putString(md, loraAdapter);
        putString(md, tenantSalt);
        putInt(md, blockTokens);
        if (!layout.isEmpty()) {
            putString(md, layout);
        }
        return md.digest();
    }

    private static void putString(MessageDigest md, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        putInt(md, b.length);
        md.update(b);
    }

    private static void putInt(MessageDigest md, int v) {
        md.update(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v});
    }

    private static long readLong(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    /** Fields of a namespace; validated by {@link #build()}. */
    public static final class Builder {
        private final String modelId;
        private String weightsFingerprint = "";
        private String kvDtype = "bf16";
        private int layoutVersion = 1;
        private int tpRank = 0;
        private int tpSize = 1;
        private String loraAdapter = "";
        private String tenantSalt = "";
        private int blockTokens = 16;
        private String layout = "";

        private Builder(String modelId) {
            this.modelId = modelId;
        }

        /** A hash or revision of the weights, so a fine-tuned or re-quantised model never shares KV. */
        public Builder weightsFingerprint(String fingerprint) {
            this.weightsFingerprint = fingerprint;
            return this;
        }

        /** KV element type, e.g. {@code bf16}, {@code fp16}, {@code fp8_e4m3}. Default {@code bf16}. */
        public Builder kvDtype(String dtype) {
            this.kvDtype = dtype;
            return this;
        }

        /**
         * Version of the server's KV tensor layout, a number the server assigns. Default 1. To name
         * the layout itself (dimensions, element order, what was applied), use {@link #layout}.
         */
        public Builder layoutVersion(int version) {
            this.layoutVersion = version;
            return this;
        }

        /** Tensor-parallel rank and world size of the shard whose KV this is. Default 0 of 1. */
        public Builder tensorParallel(int rank, int size) {
            this.tpRank = rank;
            this.tpSize = size;
            return this;
        }

        /** LoRA adapter id, or null/empty for the base model. */
        public Builder loraAdapter(String adapter) {
            this.loraAdapter = adapter == null ? "" : adapter;
            return this;
        }

        /** Per-tenant salt that isolates one tenant's KV from every other's; null/empty for none. */
        public Builder tenantSalt(String salt) {
            this.tenantSalt = salt == null ? "" : salt;
            return this;
        }

        /**
         * Describes the layout of a block's bytes in the server's own words, e.g.
         * {@code "[layer][k|v][token][kv_dim];layers=32;kvHeads=8;headSize=128;dtype=bf16;order=le;rope=applied"}:
         * part of the fingerprint, so a block of another layout is never matched, and shown by
         * {@link #toString()}, so logs say which layout a namespace is. Compared as exact text
         * (spacing, order and case count). Null or empty for none, the default; a non-empty
         * blank descriptor is refused.
         */
        public Builder layout(String descriptor) {
            this.layout = descriptor == null ? "" : descriptor;
            return this;
        }

        /** Tokens per block (B), 1 to 65,536. Default 16. */
        public Builder blockTokens(int tokens) {
            this.blockTokens = tokens;
            return this;
        }

        public Namespace build() {
            require(modelId != null && !modelId.isBlank(), "modelId must be a non-blank string");
            require(weightsFingerprint != null, "weightsFingerprint must not be null");
            require(kvDtype != null && !kvDtype.isBlank(), "kvDtype must be a non-blank string");
            require(layoutVersion >= 0, "layoutVersion must be >= 0, was " + layoutVersion);
            require(tpSize >= 1, "tensor-parallel size must be >= 1, was " + tpSize);
            require(tpRank >= 0 && tpRank < tpSize,
                    "tensor-parallel rank must be in [0, " + tpSize + "), was " + tpRank);
            require(blockTokens >= 1 && blockTokens <= 65_536,
                    "blockTokens must be in [1, 65536], was " + blockTokens);
            require(layout.isEmpty() || !layout.isBlank(),
                    "layout descriptor must not be blank (use null or empty for none), was \"" + layout + "\"");
            return new Namespace(this);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException("Namespace: " + message);
            }
        }
    }
}
