package moge.constrain;

/**
 * One open JSON value in the matcher's stack: the schema node it follows, where in it the text is
 * ({@code phase}, and up to three counters whose meaning is the node kind's, see {@link JsonMatcher}), the
 * white space run so far ({@code ws}), and the frame of the enclosing value. Immutable, so a state is shared by
 * every continuation that extends it (the token trie walk advances one state into many); {@link #with} returns
 * the frame itself when nothing changes, which keeps the walk through a string's body free of allocation.
 * Equal frames (same nodes, same counters, equal parents) are the same matcher state: the token-mask cache
 * relies on that.
 */
final class Frame {
    final Object node;
    final int phase, a, b, c, ws;
    final Frame parent;
    private final int hash;

    Frame(Object node, int phase, int a, int b, int c, int ws, Frame parent) {
        this.node = node;
        this.phase = phase;
        this.a = a;
        this.b = b;
        this.c = c;
        this.ws = ws;
        this.parent = parent;
        int h = System.identityHashCode(node);
        h = 31 * h + phase;
        h = 31 * h + a;
        h = 31 * h + b;
        h = 31 * h + c;
        h = 31 * h + ws;
        this.hash = 31 * h + (parent == null ? 0 : parent.hash);
    }

    Frame with(int phase, int a, int b, int c, int ws) {
        if (phase == this.phase && a == this.a && b == this.b && c == this.c && ws == this.ws) return this;
        return new Frame(node, phase, a, b, c, ws, parent);
    }

    Frame withWs(int ws) {
        return with(phase, a, b, c, ws);
    }

    /** Nesting depth (the root frame is 1). */
    int depth() {
        int d = 0;
        for (Frame f = this; f != null; f = f.parent) d++;
        return d;
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(Object o) {
        Frame x = this, y = o instanceof Frame f ? f : null;
        while (x != y) {
            if (x == null || y == null || x.hash != y.hash || x.node != y.node || x.phase != y.phase || x.a != y.a || x.b != y.b
                    || x.c != y.c || x.ws != y.ws) {
                return false;
            }
            x = x.parent;
            y = y.parent;
        }
        return true;
    }
}
