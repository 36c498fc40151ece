package dev.kvtier.index;

/**
 * Key → entry index for every block the cache holds: the entry's state, its copies (one
 * location per tier: a DRAM page, an SSD slot, a remote slot), pins and prefix links, stored in
 * parallel primitive arrays so that it holds millions of blocks with no object per block and
 * allocates nothing after construction.
 *
 * <p><b>Algorithm.</b> Entries are numbered {@code 0..capacity-1} and recycled through a free
 * stack. Keys are found through an open-addressing table of {@code int}s (entry + 1, 0 = empty)
 * with linear probing, at most half full; deletion shifts later members of the probe run back
 * (Knuth 6.4, algorithm R), so there are no tombstones and lookups stay short.
 *
 * <p><b>States.</b> {@code WRITING}: in the table so a second writer of the same key backs off,
 * but not yet readable. {@code READY}: bytes whole and published. {@code RETIRED}: out of the
 * table (evicted or invalidated) but still pinned, so its copies are not reused until the last
 * pin goes. {@code FREE}: on the free stack, with no copies.
 *
 * <p><b>Invariants</b> (checked by {@link #checkInvariants()} in tests): every WRITING or READY
 * entry is findable by its key and no other entry is; {@code children(e)} counts the live
 * entries whose parent is {@code e}, which its child list ({@link #firstChild},
 * {@link #nextSibling}) holds exactly, and {@code childrenWith(t, e)} those of them with a copy in
 * tier {@code t}; a live entry's parent is live; a FREE entry has no pins and no copies.
 *
 * <p>Not thread-safe: the cache serialises all calls under its metadata lock.
 */
public final class BlockIndex {
    public static final byte FREE = 0;
    public static final byte WRITING = 1;
    public static final byte READY = 2;
    public static final byte RETIRED = 3;
    /** No entry, no location. */
    public static final int NONE = -1;
    /** Tiers an entry can have copies in (DRAM, SSD, REMOTE). */
    public static final int TIERS = 3;

    private final int capacity;
    private final long[] keyHi;
    private final long[] keyLo;
    private final int[] parent;
    private final int[] children;
    /** Live children of each entry as an intrusive doubly linked list: head, and links between siblings. */
    private final int[] firstChild;
    private final int[] nextSibling;
    private final int[] prevSibling;
    private final int[][] childrenWith = new int[TIERS][];
    private final int[] pins;
    private final int[][] location = new int[TIERS][];
    private final byte[] copies;
    private final byte[] flags;
    private final int[] namespace;
    private final int[] position;
    private final byte[] state;
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
        firstChild = new int[capacity];
        nextSibling = new int[capacity];
        prevSibling = new int[capacity];
        pins = new int[capacity];
        copies = new byte[capacity];
        flags = new byte[capacity];
        namespace = new int[capacity];
        position = new int[capacity];
        state = new byte[capacity];
        for (int t = 0; t < TIERS; t++) {
            childrenWith[t] = new int[capacity];
            location[t] = new int[capacity];
        }
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
     * Adds an absent key in state WRITING, with no copies and one pin (the writer's), linked
     * under {@code parentEntry} (or none). Returns the entry, or {@link #NONE} when all are used.
     */
    public int insert(long hi, long lo, int parentEntry, int ns, int pos) {
        if (freeTop == 0) {
            return NONE;
        }
        int e = freeStack[--freeTop];
        keyHi[e] = hi;
        keyLo[e] = lo;
        parent[e] = parentEntry;
        children[e] = 0;
        for (int t = 0; t < TIERS; t++) {
            childrenWith[t][e] = 0;
            location[t][e] = NONE;
        }
        pins[e] = 1;
        copies[e] = 0;
        flags[e] = 0;
        namespace[e] = ns;
        position[e] = pos;
        state[e] = WRITING;
        firstChild[e] = NONE;
        prevSibling[e] = NONE;
        nextSibling[e] = NONE;
        if (parentEntry != NONE) {
            children[parentEntry]++;
            int head = firstChild[parentEntry];
            nextSibling[e] = head;
            if (head != NONE) {
                prevSibling[head] = e;
            }
            firstChild[parentEntry] = e;
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

    /** Records a copy of {@code e} in {@code tier} at {@code loc}. */
    public void addCopy(int e, int tier, int loc) {
        int bit = 1 << tier;
        if ((copies[e] & bit) != 0) {
            throw new IllegalStateException("entry " + e + " already has a copy in tier " + tier);
        }
        copies[e] |= (byte) bit;
        location[tier][e] = loc;
        if (parent[e] != NONE) {
            childrenWith[tier][parent[e]]++;
        }
    }

    /** Forgets the copy of {@code e} in {@code tier}; returns its location, which the caller frees. */
    public int removeCopy(int e, int tier) {
        int bit = 1 << tier;
        if ((copies[e] & bit) == 0) {
            throw new IllegalStateException("entry " + e + " has no copy in tier " + tier);
        }
        copies[e] &= (byte) ~bit;
        int loc = location[tier][e];
        location[tier][e] = NONE;
        if (parent[e] != NONE) {
            childrenWith[tier][parent[e]]--;
        }
        return loc;
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
            unlinkSibling(e, p);
            for (int t = 0; t < TIERS; t++) {
                if ((copies[e] & (1 << t)) != 0) {
                    childrenWith[t][p]--;
                }
            }
            parent[e] = NONE;
        }
        state[e] = RETIRED;
    }

    private void unlinkSibling(int e, int p) {
        int prev = prevSibling[e];
        int next = nextSibling[e];
        if (prev == NONE) {
            firstChild[p] = next;
        } else {
            nextSibling[prev] = next;
        }
        if (next != NONE) {
            prevSibling[next] = prev;
        }
        prevSibling[e] = NONE;
        nextSibling[e] = NONE;
    }

    /** Returns an unpinned RETIRED entry without copies to the free stack. */
    public void release(int e) {
        if (state[e] != RETIRED || pins[e] != 0 || copies[e] != 0) {
            throw new IllegalStateException("entry " + e + " cannot be released: state " + state[e]
                    + ", pins " + pins[e] + ", copies " + copies[e]);
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

    public boolean isLive(int e) {
        return state[e] == WRITING || state[e] == READY;
    }

    public int pins(int e) {
        return pins[e];
    }

    public int children(int e) {
        return children[e];
    }

    /** Live children of {@code e} that have a copy in {@code tier}. */
    public int childrenWith(int tier, int e) {
        return childrenWith[tier][e];
    }

    public int parent(int e) {
        return parent[e];
    }

    /** One live child of {@code e}, or {@link #NONE}; the others follow by {@link #nextSibling}. */
    public int firstChild(int e) {
        return firstChild[e];
    }

    /** The next live child of {@code e}'s parent after {@code e}, or {@link #NONE}. */
    public int nextSibling(int e) {
        return nextSibling[e];
    }

    /** Bit {@code t} set when {@code e} has a copy in tier {@code t}. */
    public int copies(int e) {
        return copies[e];
    }

    public boolean hasCopy(int e, int tier) {
        return (copies[e] & (1 << tier)) != 0;
    }

    /** The fastest tier with a copy of {@code e}, or {@link #NONE}. */
    public int fastestTier(int e) {
        return copies[e] == 0 ? NONE : Integer.numberOfTrailingZeros(copies[e]);
    }

    public int location(int e, int tier) {
        return location[tier][e];
    }

    /** Free-form bits for the cache's own bookkeeping (e.g. a write in flight). */
    public int flags(int e) {
        return flags[e];
    }

    public void setFlags(int e, int f) {
        flags[e] = (byte) f;
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
        int[][] countedWith = new int[TIERS][capacity];
        int liveSeen = 0;
        for (int e = 0; e < capacity; e++) {
            if (isLive(e)) {
                liveSeen++;
                check(find(keyHi[e], keyLo[e]) == e, "live entry " + e + " not findable");
                int p = parent[e];
                if (p != NONE) {
                    check(isLive(p), "entry " + e + " has dead parent " + p);
                    counted[p]++;
                    for (int t = 0; t < TIERS; t++) {
                        countedWith[t][p] += hasCopy(e, t) ? 1 : 0;
                    }
                }
            }
            check(state[e] != FREE || (pins[e] == 0 && copies[e] == 0), "free entry " + e + " is pinned or has copies");
        }
        check(liveSeen == live, "live count " + live + " but " + liveSeen + " live entries");
        int inTable = 0;
        for (int v : table) {
            inTable += v == 0 ? 0 : 1;
        }
        check(inTable == live, "table holds " + inTable + " but " + live + " live entries");
        for (int e = 0; e < capacity; e++) {
            if (isLive(e)) {
                check(children[e] == counted[e], "entry " + e + " children " + children[e] + " != " + counted[e]);
                int listed = 0;
                for (int c = firstChild[e]; c != NONE && listed <= children[e]; c = nextSibling[c]) {
                    check(parent[c] == e && isLive(c), "entry " + e + " lists " + c + " as a child");
                    listed++;
                }
                check(listed == children[e], "entry " + e + " lists " + listed + " children of " + children[e]);
                for (int t = 0; t < TIERS; t++) {
                    check(childrenWith[t][e] == countedWith[t][e], "entry " + e + " children in tier " + t
                            + " " + childrenWith[t][e] + " != " + countedWith[t][e]);
                }
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
