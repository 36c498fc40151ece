package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Opening a device rebuilt the index from its slot headers: blocks kept, discarded slots. */
@Name("dev.kvtier.Recovery")
@Label("kvtier Recovery")
@Description("Opening a device rebuilt the index from its slot headers: blocks kept, discarded slots.")
final class RecoveryEvent extends BlockEvent {
    @Label("Discarded slots")
    long discarded;
}
