package dev.kvtier.index;

/**
 * Key → entry index for every block the cache holds, with the entry's state, tier, location,
 * pin count and prefix links, stored in parallel primitive arrays so that it holds millions of
 * blocks with no object per block and allocates nothing after construction.
 *
 * <p><b>Algorithm.</b> Entries are numbered {@code 0..capacity-1} and recycled through a free
 * stack. Keys are found through an open-addressing table of {@code int}s (entry + 1, 0 = empty)
 * with linear probing, at most half full; deletion shifts later members of the probe run back
 * (Knuth 6.4, algorithm R), so there are no tombstones and lookups stay short.
 *
 * <p><b>States.</b> {@code WRITING}: in the table so a second writer of the same key backs off,
 * but not yet readable. {@code READY}: bytes whole and published. {@code RETIRED}: out of the
 * table (evicted or invalidated) but still pinned, so its location is not reused until the last
 * pin goes. {@code FREE}: on the free stack.
 *
 * <p><b>Invariants</b> (checked by {@link #checkInvariants()} in tests): every WRITING or READY
 * entry is findable by its key and no other entry is; {@code children(e)} counts the live
 * entries whose parent is {@code e}; a live entry's parent is live; a FREE entry has no pins.
 *
 * <p>Not thread-safe: the cache serialises all calls under its metadata lock.
 */
public final class BlockIndex {
    public static final byte FREE = 0;
    public static final byte WRITING = 1;
    public static final byte READY = 2;
    public static final byte RETIRED = 3;
    /** No entry. */
    public static final int NONE = -1;

    private final int capacity;
    private final long[] keyHi;
    private final long[] keyLo;
    private final int[] parent;
    private final int[] children;
    private final int[] pins;
    private final int[] location;
    private final int[] namespace;
    private final int[] position;
    private final byte[] state;
    private final byte[] tier;
    private final int[] table;
    private final int mask;
    private final int[] freeStack;
    private int freeTop;
    private int live;

    public BlockIndex(int capacity) {
        if (capacity < 1 || capacity > (1 << 29)) {
            throw new IllegalArgumentException("index capacity must be in [1, 2^29], was " + capacity);
        }
        this.capacity = capacity;
        keyHi = new long[capacity];
        keyLo = new long[capacity];
        parent = new int[capacity];
        children = new int[capacity];
        pins = new int[capacity];
        location = new int[capacity];
        namespace = new int[capacity];
        position = new int[capacity];
        state = new byte[capacity];
        tier = new byte[capacity];
        table = new int[Integer.highestOneBit(capacity * 2 - 1) << 1];
        mask = table.length - 1;
        freeStack = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            freeStack[i] = capacity - 1 - i;
        }
        freeTop = capacity;
    }

    public int capacity() {
        return capacity;
    }

    /** Entries that are WRITING or READY (findable). */
    public int size() {
        return live;
    }

    /** Entries not on the free stack. */
    public int used() {
        return capacity - freeTop;
    }

    /** The entry holding key {@code (hi, lo)}, or {@link #NONE}. */
    public int find(long hi, long lo) {
        for (int i = home(hi, lo); ; i = (i + 1) & mask) {
            int v = table[i];
            if (v == 0) {
                return NONE;
            }
            if (keyHi[v - 1] == hi && keyLo[v - 1] == lo) {
                return v - 1;
            }
        }
    }

    /**
     * Adds an absent key in state WRITING with one pin (the writer's) and links it under
     * {@code parentEntry} (or none). Returns the entry, or {@link #NONE} when every entry is used.
     */
    public int insert(long hi, long lo, int parentEntry, int ns, int pos, byte tierId, int loc) {
        if (freeTop == 0) {
            return NONE;
        }
        int e = freeStack[--freeTop];
        keyHi[e] = hi;
        keyLo[e] = lo;
        parent[e] = parentEntry;
        children[e] = 0;
        pins[e] = 1;
        location[e] = loc;
        namespace[e] = ns;
        position[e] = pos;
        tier[e] = tierId;
        state[e] = WRITING;
        if (parentEntry != NONE) {
            children[parentEntry]++;
        }
        int i = home(hi, lo);
        while (table[i] != 0) {
            i = (i + 1) & mask;
        }
        table[i] = e + 1;
        live++;
        return e;
    }

    /** WRITING → READY. */
    public void publish(int e) {
        if (state[e] != WRITING) {
            throw new IllegalStateException("entry " + e + " is not being written (state " + state[e] + ")");
        }
        state[e] = READY;
    }

    /** Takes a live entry out of the table and unlinks it from its parent; it becomes RETIRED. */
    public void retire(int e) {
        byte s = state[e];
        if (s != WRITING && s != READY) {
            throw new IllegalStateException("entry " + e + " is not live (state " + s + ")");
        }
        removeFromTable(e);
        live--;
        int p = parent[e];
        if (p != NONE) {
            children[p]--;
            parent[e] = NONE;
        }
        state[e] = RETIRED;
    }

    /** Returns an unpinned RETIRED entry to the free stack. */
    public void release(int e) {
        if (state[e] != RETIRED || pins[e] != 0) {
            throw new IllegalStateException("entry " + e + " cannot be released: state " + state[e]
                    + ", pins " + pins[e]);
        }
        state[e] = FREE;
        freeStack[freeTop++] = e;
    }

    public void pin(int e) {
        pins[e]++;
    }

    /** Removes one pin and returns how many remain. */
    public int unpin(int e) {
        if (pins[e] <= 0) {
            throw new IllegalStateException("entry " + e + " is not pinned");
        }
        return --pins[e];
    }

    public byte state(int e) {
        return state[e];
    }

    public int pins(int e) {
        return pins[e];
    }

    public int children(int e) {
        return children[e];
    }

    public int parent(int e) {
        return parent[e];
    }

    public byte tier(int e) {
        return tier[e];
    }

    public int location(int e) {
        return location[e];
    }

    public int namespace(int e) {
        return namespace[e];
    }

    public int position(int e) {
        return position[e];
    }

    public long keyHi(int e) {
        return keyHi[e];
    }

    public long keyLo(int e) {
        return keyLo[e];
    }

    /** Verifies every invariant in the class comment; O(capacity). For tests. */
    public void checkInvariants() {
        int[] counted = new int[capacity];
        int liveSeen = 0;
        for (int e = 0; e < capacity; e++) {
            boolean isLive = state[e] == WRITING || state[e] == READY;
            if (isLive) {
                liveSeen++;
                check(find(keyHi[e], keyLo[e]) == e, "live entry " + e + " not findable");
                int p = parent[e];
                if (p != NONE) {
                    check(state[p] == WRITING || state[p] == READY, "entry " + e + " has dead parent " + p);
                    counted[p]++;
                }
            }
            check(state[e] != FREE || pins[e] == 0, "free entry " + e + " is pinned");
        }
        check(liveSeen == live, "live count " + live + " but " + liveSeen + " live entries");
        int inTable = 0;
        for (int v : table) {
            inTable += v == 0 ? 0 : 1;
        }
        check(inTable == live, "table holds " + inTable + " but " + live + " live entries");
        for (int e = 0; e < capacity; e++) {
            if (state[e] == WRITING || state[e] == READY) {
                check(children[e] == counted[e], "entry " + e + " children " + children[e] + " != " + counted[e]);
            }
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalStateException("index invariant broken: " + message);
        }
    }

    private int home(long hi, long lo) {
        long h = (hi ^ lo) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }

    private void removeFromTable(int e) {
        int i = home(keyHi[e], keyLo[e]);
        while (table[i] != e + 1) {
            i = (i + 1) & mask;
        }
        table[i] = 0;
        for (int j = (i + 1) & mask; table[j] != 0; j = (j + 1) & mask) {
            int v = table[j];
            int h = home(keyHi[v - 1], keyLo[v - 1]);
            boolean stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
            if (!stays) {
                table[i] = v;
                table[j] = 0;
                i = j;
            }
        }
    }
}
