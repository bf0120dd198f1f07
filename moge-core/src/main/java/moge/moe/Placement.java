package moge.moe;

import moge.MogeException;
import moge.model.ModelConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which device owns which MoGE expert groups. Group g holds experts [g * n/G, (g+1) * n/G); a device owns
 * whole groups, so with MoGE routing (k/G experts chosen inside every group) every device receives exactly
 * the same number of expert computations for any batch: the balance the architecture is built for.
 */
public final class Placement {
    private final int experts;
    private final int groups;
    private final int[][] groupsOfDevice;
    private final int[] deviceOfGroup;
    private final int[] deviceOfExpert;

    private Placement(int experts, int groups, int[][] groupsOfDevice) {
        this.experts = experts;
        this.groups = groups;
        this.groupsOfDevice = groupsOfDevice;
        this.deviceOfGroup = new int[groups];
        Arrays.fill(deviceOfGroup, -1);
        for (int d = 0; d < groupsOfDevice.length; d++) {
            for (int g : groupsOfDevice[d]) {
                if (g < 0 || g >= groups) throw new MogeException("expert group " + g + " does not exist (the model has " + groups + " groups: 0-" + (groups - 1) + ")");
                if (deviceOfGroup[g] >= 0) throw new MogeException("expert group " + g + " is placed on two devices");
                deviceOfGroup[g] = d;
            }
        }
        for (int g = 0; g < groups; g++) {
            if (deviceOfGroup[g] < 0) throw new MogeException("expert group " + g + " is not placed on any device");
        }
        int per = experts / groups;
        this.deviceOfExpert = new int[experts];
        for (int e = 0; e < experts; e++) deviceOfExpert[e] = deviceOfGroup[e / per];
    }

    /** {@code devices} devices with G/devices contiguous groups each; devices must divide the group count. */
    public static Placement split(ModelConfig c, int devices) {
        if (!c.hasExperts()) {
            if (devices == 1) return null;
            throw new MogeException("--devices " + devices + ": the model has no routed experts to place");
        }
        int g = c.expertGroups();
        if (devices < 1) throw new MogeException("--devices must be >= 1, got " + devices);
        if (g % devices != 0) {
            throw new MogeException("--devices " + devices + " does not divide the " + g + " expert groups of the model (use one of "
                    + divisors(g) + ")");
        }
        int per = g / devices;
        int[][] owned = new int[devices][per];
        for (int d = 0; d < devices; d++) for (int i = 0; i < per; i++) owned[d][i] = d * per + i;
        return new Placement(c.numExperts(), g, owned);
    }

    /** An explicit assignment (remote workers report theirs); every group must be on exactly one device. */
    public static Placement of(ModelConfig c, List<int[]> groupsOfDevice) {
        return new Placement(c.numExperts(), c.expertGroups(), groupsOfDevice.toArray(new int[0][]));
    }

    /** One virtual device per group: the paper's placement, used to account load when nothing is split. */
    public static Placement perGroup(ModelConfig c) {
        return split(c, c.expertGroups());
    }

    public int devices() {
        return groupsOfDevice.length;
    }

    public int groups() {
        return groups;
    }

    public int experts() {
        return experts;
    }

    public int deviceOfExpert(int e) {
        return deviceOfExpert[e];
    }

    public int[] deviceOfExpert() {
        return deviceOfExpert.clone();
    }

    public int[] groups(int device) {
        return groupsOfDevice[device].clone();
    }

    /** experts[e] is true when device owns expert e. */
    public boolean[] expertMask(int device) {
        boolean[] m = new boolean[experts];
        for (int e = 0; e < experts; e++) m[e] = deviceOfExpert[e] == device;
        return m;
    }

    /** Experts of the given groups, as a mask over all experts (what a worker maps). */
    public static boolean[] expertMask(ModelConfig c, int[] groups) {
        boolean[] m = new boolean[c.numExperts()];
        int per = c.expertsPerGroup();
        for (int g : groups) for (int e = g * per; e < (g + 1) * per; e++) m[e] = true;
        return m;
    }

    /** "0-3", "0,2,5-7": group lists as people type them. */
    public static int[] parseGroups(String s, int groups) {
        List<Integer> out = new ArrayList<>();
        for (String part : s.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) continue;
            try {
                int dash = p.indexOf('-');
                int lo = Integer.parseInt(dash < 0 ? p : p.substring(0, dash).strip());
                int hi = dash < 0 ? lo : Integer.parseInt(p.substring(dash + 1).strip());
                if (lo > hi) throw new MogeException("--groups: range " + p + " runs backwards");
                for (int g = lo; g <= hi; g++) out.add(g);
            } catch (NumberFormatException e) {
                throw new MogeException("--groups: '" + p + "' is not a group number or range like 0-3");
            }
        }
        if (out.isEmpty()) throw new MogeException("--groups: no groups given");
        int[] r = out.stream().mapToInt(Integer::intValue).sorted().toArray();
        for (int i = 0; i < r.length; i++) {
            if (r[i] < 0 || r[i] >= groups) {
                throw new MogeException("--groups: group " + r[i] + " does not exist (the model has " + groups + " groups: 0-" + (groups - 1) + ")");
            }
            if (i > 0 && r[i] == r[i - 1]) throw new MogeException("--groups: group " + r[i] + " is named twice");
        }
        return r;
    }

    /** The inverse of {@link #parseGroups}: sorted groups written with ranges. */
    public static String formatGroups(int[] groups) {
        int[] g = groups.clone();
        Arrays.sort(g);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < g.length; ) {
            int j = i;
            while (j + 1 < g.length && g[j + 1] == g[j] + 1) j++;
            if (!sb.isEmpty()) sb.append(',');
            sb.append(g[i]);
            if (j > i) sb.append('-').append(g[j]);
            i = j + 1;
        }
        return sb.toString();
    }

    private static String divisors(int n) {
        List<String> d = new ArrayList<>();
        for (int i = 1; i <= n; i++) if (n % i == 0) d.add(Integer.toString(i));
        return String.join(", ", d);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int d = 0; d < groupsOfDevice.length; d++) {
            if (d > 0) sb.append("; ");
            sb.append("device ").append(d).append(": groups ").append(formatGroups(groupsOfDevice[d]));
        }
        return sb.toString();
    }
}
