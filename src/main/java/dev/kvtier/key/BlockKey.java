package dev.kvtier.key;

import java.util.Objects;

/**
 * The 128-bit key of one block of KV: a chained hash of the namespace, the parent block's key
 * and this block's token ids (see {@link Namespace#blockKeys(int[])}). Equal keys mean equal
 * prefixes in equal namespaces.
 *
 * <p>A key also remembers its parent's 128 bits and its position in the prompt (0 for the
 * first block, whose parent is the namespace root), so a cache can keep the prefix rule
 * (a block is only useful while its parent is kept) without the caller's help. Keys are
 * immutable and safe to share between threads; {@link #equals} compares the 128 bits and the
 * namespace.
 */
public final class BlockKey {
    private final Namespace namespace;
    private final long hi;
    private final long lo;
    private final long parentHi;
    private final long parentLo;
    private final int position;

    BlockKey(Namespace namespace, long hi, long lo, long parentHi, long parentLo, int position) {
        this.namespace = namespace;
        this.hi = hi;
        this.lo = lo;
        this.parentHi = parentHi;
        this.parentLo = parentLo;
        this.position = position;
    }

    /** The namespace this key was made in. */
    public Namespace namespace() {
        return namespace;
    }

    /** High 64 bits of the key. */
    public long hi() {
        return hi;
    }

    /** Low 64 bits of the key. */
    public long lo() {
        return lo;
    }

    /** High 64 bits of the parent key (of the namespace root for the first block). */
    public long parentHi() {
        return parentHi;
    }

    /** Low 64 bits of the parent key (of the namespace root for the first block). */
    public long parentLo() {
        return parentLo;
    }

    /** Position of this block in its prompt: 0 for the first block. */
    public int position() {
        return position;
    }

    /** True for the first block of a prompt, whose parent is the namespace itself. */
    public boolean isFirst() {
        return position == 0;
    }

    /** True when {@code parent} is this key's parent block. */
    public boolean isChildOf(BlockKey parent) {
        return parent.hi == parentHi && parent.lo == parentLo && parent.position + 1 == position
                && parent.namespace.equals(namespace);
    }

    /** The key as 32 lower-case hex digits (high half first). */
    public String toHex() {
        return String.format("%016x%016x", hi, lo);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof BlockKey)) {
            return false;
        }
        BlockKey k = (BlockKey) o;
        return k.hi == hi && k.lo == lo && k.namespace.equals(namespace);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(hi * 31 + lo);
    }

    @Override
    public String toString() {
        return "BlockKey[" + toHex() + " @" + position + " in " + namespace.modelId() + "]";
    }

    static BlockKey of(Namespace namespace, long hi, long lo, long parentHi, long parentLo,
            int position) {
        return new BlockKey(Objects.requireNonNull(namespace), hi, lo, parentHi, parentLo, position);
    }
}
