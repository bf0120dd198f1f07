package moge.constrain;

import java.util.Arrays;

/**
 * Where the matcher is after some text: the open frames of every way the text so far can be read (more than one
 * only while an anyOf has not decided). Immutable; equal states allow the same continuations, so they key
 * the cache of token masks.
 */
public final class MatchState {
    final Frame[] frames;
    private final int hash;

    MatchState(Frame[] frames) {
        this.frames = frames;
        this.hash = Arrays.hashCode(frames);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(Object o) {
        return o == this || o instanceof MatchState m && m.hash == hash && Arrays.equals(m.frames, frames);
    }

    /** A reusable list of frames for one step, which drops duplicates as they come. */
    static final class Out {
        Frame[] f = new Frame[4];
        int n;

        void clear() {
            n = 0;
        }

        void add(Frame x) {
            for (int i = 0; i < n; i++) if (f[i].equals(x)) return;
            if (n == f.length) f = Arrays.copyOf(f, n * 2);
            f[n++] = x;
        }
    }
}
