package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A load ended: blocks is the matched blocks, delivered those copied to the caller; tier the lowest tier read from. */
@Name("dev.kvtier.Load")
@Label("kvtier Load")
@Description("A load ended: blocks is the matched blocks, delivered those copied to the caller; tier the lowest tier read from.")
final class LoadEvent extends BlockEvent {
    @Label("Delivered")
    int delivered;
}
