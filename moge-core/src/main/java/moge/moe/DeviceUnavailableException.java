package moge.moe;

import moge.MogeException;

import java.util.Arrays;

/**
 * Some expert groups could not be computed: their worker is down, did not answer within its deadline,
 * died mid-request or now serves another model. The request fails; the server answers 503 naming the
 * groups ({@link #groups()}), the CLI prints the message and exits non-zero. The next request tries again.
 */
public class DeviceUnavailableException extends MogeException implements moge.ServiceUnavailable {
    private final int[] groups;
    private final String devices;

    public DeviceUnavailableException(String devices, int[] groups, String message, Throwable cause) {
        super(message, cause);
        this.devices = devices;
        this.groups = groups.clone();
        Arrays.sort(this.groups);
    }

    /** The expert groups that are missing. */
    public int[] groups() {
        return groups.clone();
    }

    /** The device(s) at fault, e.g. "worker 127.0.0.1:7070". */
    public String devices() {
        return devices;
    }
}
