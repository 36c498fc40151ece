package dev.kvtier.policy;

/** What a policy may know of a cached block, by index entry number: its key and place in its prefix, never its bytes. */
public interface BlockFacts {
    long keyHi(int entry);

    long keyLo(int entry);

    /** Block position in its prompt (0 for the first block). */
    int position(int entry);

    /** The parent's entry, or a negative number for a first block. */
    int parent(int entry);
}
