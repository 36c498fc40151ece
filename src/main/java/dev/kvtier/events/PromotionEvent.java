package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Blocks read from tier copied into DRAM, or not: outcome; elapsed is 0 for copies made within a load. */
@Name("dev.kvtier.Promotion")
@Label("kvtier Promotion")
@Description("Blocks read from tier copied into DRAM, or not: outcome; elapsed is 0 for copies made within a load.")
final class PromotionEvent extends BlockEvent {
}
