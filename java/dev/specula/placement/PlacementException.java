package dev.specula.placement;

/** A placement that cannot be made (a bad rule, a device that does not exist, memory that does not fit): one line naming what. */
public final class PlacementException extends RuntimeException {
    public PlacementException(String message) {
        super(message);
    }
}
