package moge.sample;

/** The k largest entries of a vector without sorting all of it: a small min-heap, ties to the lower index. */
public final class TopK {
    private TopK() {
    }

    /** Indices of the k largest values of x[off .. off+n), largest first. */
    public static int[] indices(float[] x, int off, int n, int k) {
        k = Math.min(k, n);
        int[] heap = new int[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            if (size < k) {
                heap[size] = i;
                up(heap, size++, x, off);
            } else if (better(x, off, i, heap[0])) {
                heap[0] = i;
                down(heap, size, x, off);
            }
        }
        int[] out = new int[size];
        for (int j = size - 1; j >= 0; j--) {
            out[j] = heap[0];
            heap[0] = heap[j];
            down(heap, j, x, off);
        }
        return out;
    }

    /** True when index a ranks above index b (larger value, or equal value and lower index). */
    private static boolean better(float[] x, int off, int a, int b) {
        float va = x[off + a], vb = x[off + b];
        return va > vb || (va == vb && a < b);
    }

    private static void up(int[] h, int i, float[] x, int off) {
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!better(x, off, h[p], h[i])) break;
            int t = h[p];
            h[p] = h[i];
            h[i] = t;
            i = p;
        }
    }

    private static void down(int[] h, int size, float[] x, int off) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < size && better(x, off, h[m], h[l])) m = l;
            if (r < size && better(x, off, h[m], h[r])) m = r;
            if (m == i) return;
            int t = h[m];
            h[m] = h[i];
            h[i] = t;
            i = m;
        }
    }
}
