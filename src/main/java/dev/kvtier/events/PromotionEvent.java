package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Blocks read from tier copied into DRAM after a load, or not: outcome. */
@Name("dev.kvtier.Promotion")
@Label("kvtier Promotion")
@Description("Blocks read from tier copied into DRAM after a load, or not: outcome.")
final class PromotionEvent extends BlockEvent {
}
