package dev.kvtier.policy;

/**
 * A miniature simulation of a cache with DRAM over a device tier: two {@link ShadowCache}s on
 * the same key sample, one with DRAM's scaled capacity and one with the device's, each with its
 * own admission and an LRU order. A key hits while every sampled key before it in the request
 * was kept by either level.
 *
 * <p>This is the real cache's flow: every stored block enters DRAM if DRAM admits it, and the
 * demoter writes a clean copy to the device ahead of eviction if the device admits it; a device
 * hit is loaded back into DRAM (the DRAM level stores what it missed); an access touches a block
 * on every tier that holds it (each level touches what it finds). So where the device is no
 * larger than DRAM and writes every block, it holds the same blocks as DRAM and adds no hits, as
 * the real cache's does; a candidate writing a share of chains keeps other blocks there.
 *
 * <p>The levels keep their own prefix trees (a key's parent is its nearest sampled ancestor kept
 * in that level); the real cache keeps one tree with a copy per tier. Writes are the device
 * level's inserts.
 */
final class TieredShadow implements Shadow {
    private final ShadowCache dram;
    private final ShadowCache device;
    private boolean hitting;

    TieredShadow(ShadowCache dram, ShadowCache device) {
        this.dram = dram;
        this.device = device;
    }

    @Override
    public void onRequest() {
        dram.onRequest();
        device.onRequest();
        hitting = true;
    }

    @Override
    public boolean onLookup(long hi, long lo) {
        boolean onDevice = device.lookup(hi, lo, false) != ShadowCache.MISSED;
        boolean inDram = dram.lookup(hi, lo, onDevice) != ShadowCache.MISSED;
        hitting &= onDevice || inDram;
        return hitting;
    }

    @Override
    public long writes() {
        return device.writes();
    }

    @Override
    public boolean filled() {
        return device.filled();
    }
}
