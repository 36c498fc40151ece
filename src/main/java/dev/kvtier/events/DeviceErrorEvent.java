package dev.kvtier.events;

import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** An operation on a device failed; what it concerned is served as a miss or not written. */
@Name("dev.kvtier.DeviceError")
@Label("kvtier Device Error")
@Description("An operation on a device failed; what it concerned is served as a miss or not written.")
final class DeviceErrorEvent extends BlockEvent {
    @Label("Device")
    String device;

    @Label("Operation")
    String operation;

    @Label("Error")
    String error;
}
