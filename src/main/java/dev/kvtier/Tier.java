package dev.kvtier;

/** Where a block is kept, fastest first. */
public enum Tier {
    /** Off-heap host memory of this process. */
    DRAM,
    /** A file (or raw device) on local flash. */
    SSD,
    /** A block device reached over the network, shared by many servers. */
    REMOTE;

    private static final Tier[] VALUES = values();

    static Tier of(int ordinal) {
        return VALUES[ordinal];
    }
}
