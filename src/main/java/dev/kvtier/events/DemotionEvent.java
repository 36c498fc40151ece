package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** One block written down from DRAM or SSD to tier (bytes before compression), or not: outcome. */
@Name("dev.kvtier.Demotion")
@Label("kvtier Demotion")
@Description("One block written down from DRAM or SSD to tier (bytes before compression), or not: outcome.")
final class DemotionEvent extends BlockEvent {
}
