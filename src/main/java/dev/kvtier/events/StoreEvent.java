package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A store call ended: blocks is the new blocks asked to be kept, stored those kept in DRAM. */
@Name("dev.kvtier.Store")
@Label("kvtier Store")
@Description("A store call ended: blocks is the new blocks asked to be kept, stored those kept in DRAM.")
final class StoreEvent extends BlockEvent {
    @Label("Stored")
    int stored;
}
