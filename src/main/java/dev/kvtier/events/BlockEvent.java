package dev.kvtier.events;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * The fields every kvtier event has. Events are committed when their operation ends, so JFR's
 * own start time is the end and its duration 0; {@code elapsed} is the operation's time.
 * Disabled unless a recording enables them by name (for example
 * {@code jfr configure dev.kvtier.Load#enabled=true}, or a {@code .jfc} setting).
 */
@Category("kvtier")
@Enabled(false)
@StackTrace(false)
abstract class BlockEvent extends Event {
    @Label("Tier")
    @Description("dram, ssd or remote")
    String tier;

    @Label("Blocks")
    int blocks;

    @Label("Bytes")
    @DataAmount
    long bytes;

    @Label("Elapsed")
    @Timespan(Timespan.NANOSECONDS)
    long elapsed;

    @Label("Outcome")
    @Description("ok, partial, cancelled, deadline, corrupt, mismatch, io_error, declined or dropped")
    String outcome;

    /** Fills the common fields and commits. */
    final void commit(String tier, int blocks, long bytes, long elapsed, String outcome) {
        this.tier = tier;
        this.blocks = blocks;
        this.bytes = bytes;
        this.elapsed = elapsed;
        this.outcome = outcome;
        commit();
    }
}
