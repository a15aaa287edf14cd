package dev.specula.cli;

/** A mistake in what the user asked for (a flag, a path); reported as one line, exit code 1. */
public final class UserError extends RuntimeException {
    public UserError(String message) {
        super(message);
    }
}
