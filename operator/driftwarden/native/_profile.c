/* driftwarden.native._profile: one pass over a batch column when profiling numerical data.
 *
 * NumericProfile.observe (profile/numeric.py) used five numpy passes per batch column
 * (min, max, the shifted sum, the sum of squares, one compare per histogram edge), each
 * with its own call overhead; at 10^5 rows x 1,000 features that is 5,000 columns a run.
 * observe() here does them in one pass over blocks small enough to stay in L1 cache, with
 * the GIL released. take() is the cut's gather (profile/reserve.py) without numpy's
 * fancy-indexing machinery, fill() its last step for a whole column group, populate() the
 * first touch of its pages from another thread. */
#include "_common.h"
#include <math.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* Values per block: 4 KiB, re-read once per histogram edge while it is in L1 cache. */
#define BLOCK 512
/* Independent accumulators (one vector of them): they let the compiler use SIMD without
 * reassociating (no -ffast-math) and shorten the rounding chains (the bound below). */
#define LANES 8
/* Edges counted without a heap allocation (the engine uses nine). */
#define STACK_EDGES 64

/* GCC/clang vector extensions, eight float64 lanes: the compiler splits them into SSE2
 * pairs on the x86-64 baseline (NEON on arm64), so one build serves every node (no
 * -march), and the clones for AVX2 and AVX-512 machines, chosen once at load time, use
 * four or eight lanes an instruction, as numpy does. Every clone does the same
 * arithmetic per lane in the same order (none enables FMA), so results do not depend on
 * the machine. The compiler does not vectorize such loops itself: it may not reorder
 * floating-point sums. */
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8i __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
/* fp-contract=off: the AVX-512 clone would otherwise fuse c * c + sum (FMA), and a
 * profile's moments would depend on the machine in their last bits. */
#define DW_CLONES                                                                         \
    __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=off")))
#else
#define DW_CLONES
#endif

/* Macros, not functions: a vector passed or returned by value draws -Wpsabi (an ABI that
 * differs between the clones). */
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v))
#define SPLAT8(x) ((v8d){(x), (x), (x), (x), (x), (x), (x), (x)})
/* mask ? a : b per lane, mask from a comparison (all ones or all zeros). */
#define SELECT8(mask, a, b) ((v8d)(((mask) & (v8i)(a)) | (~(mask) & (v8i)(b))))

/* Pairwise over the lanes. */
static inline double
lanes_sum(const v8d *v)
{
    return (((*v)[0] + (*v)[1]) + ((*v)[2] + (*v)[3])) + (((*v)[4] + (*v)[5]) + ((*v)[6] + (*v)[7]));
}

/* #{i < len: b[i] < edge}; NaN counts nowhere, as in numpy's comparison. */
static inline long long
count_below(const double *b, Py_ssize_t len, double edge)
{
    const v8d edges = SPLAT8(edge);
    v8i counts = {0};
    Py_ssize_t whole = len - len % LANES, i;
    for (i = 0; i < whole; i += LANES) {
        v8d v;
        LOAD8(v, b + i);
        counts -= v < edges; /* a true comparison is -1 in every bit */
    }
    long long count = 0;
    for (int l = 0; l < LANES; l++) {
        count += counts[l];
    }
    for (; i < len; i++) {
        count += b[i] < edge;
    }
    return count;
}

/* The pass of observe() below over x[0..n), n >= 1, without the GIL: extremes and shifted
 * sums into found[0..4), below[j] = #{x < e[j]} for j < m. */
DW_CLONES static void
scan(const double *x, Py_ssize_t n, const double *e, Py_ssize_t m, long long *below,
     double found[4])
{
    const double shift = x[0];
    const v8d shifts = SPLAT8(shift);
    double lo = x[0], hi = x[0], s1 = 0.0, s2 = 0.0;
    for (Py_ssize_t j = 0; j < m; j++) {
        below[j] = 0;
    }
    for (Py_ssize_t start = 0; start < n; start += BLOCK) {
        const double *b = x + start;
        Py_ssize_t len = n - start < BLOCK ? n - start : BLOCK;
        Py_ssize_t whole = len - len % LANES;
        v8d sum = SPLAT8(0.0), squares = SPLAT8(0.0), mins = SPLAT8(lo), maxs = SPLAT8(hi);
        for (Py_ssize_t i = 0; i < whole; i += LANES) {
            v8d v;
            LOAD8(v, b + i);
            v8d c = v - shifts;
            sum += c;
            squares += c * c;
            mins = SELECT8(v < mins, v, mins);
            maxs = SELECT8(v > maxs, v, maxs);
        }
        double tail_sum = 0.0, tail_squares = 0.0;
        for (Py_ssize_t i = whole; i < len; i++) {
            double v = b[i], c = v - shift;
            tail_sum += c;
            tail_squares += c * c;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* In order over the blocks. */
        s1 += lanes_sum(&sum) + tail_sum;
        s2 += lanes_sum(&squares) + tail_squares;
        for (int l = 0; l < LANES; l++) {
            lo = mins[l] < lo ? mins[l] : lo;
            hi = maxs[l] > hi ? maxs[l] : hi;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            below[j] += count_below(b, len, e[j]);
        }
    }
    found[0] = lo;
    found[1] = hi;
    found[2] = s1;
    found[3] = s2;
}

/* observe(values, edges, counts) -> (min, max, s1, s2) or None.
 *
 * For float64 `values` (n >= 1) with shift = values[0]: min, max, s1 = sum(v - shift)
 * and s2 = sum((v - shift)^2), and `counts` (int64, len(edges) + 1) incremented in place
 * by the histogram of `values` on `edges` exactly as profile/numeric.py's _add_histogram
 * does: below[j] = #{v < edges[j]}, counts[:-1] += below, counts[1:] -= below,
 * counts[-1] += n (bin i is [e_{i-1}, e_i) for ascending edges). `edges` and `counts` may
 * both be None (no histogram).
 *
 * None when a value is NaN or +-inf, or a square overflows: then nothing was changed and
 * the caller takes its numpy path, which handles non-finite values.
 *
 * Rounding: s1 and s2 are sums in LANES lanes per block of BLOCK values, the block sums
 * added in order; each has an error below (n - 1) * 2^-53 * sum|term| (the bound of any
 * summation order; in practice ~ (BLOCK/LANES + n/BLOCK) * 2^-53 * sum|term|), plus
 * n * 2^-1074 where squares fall below the normal range. The terms v - shift are exact
 * whenever v is within a factor two of the shift (Sterbenz): a mean of 1e9 with a spread
 * of 1 loses nothing there. tests/native/test_profile_kernel.py checks the bound against
 * exact fractions. */
static PyObject *
observe(PyObject *module, PyObject *args)
{
    PyObject *values_obj, *edges_obj, *counts_obj;
    if (!PyArg_ParseTuple(args, "OOO:observe", &values_obj, &edges_obj, &counts_obj)) {
        return NULL;
    }
    int histogram = edges_obj != Py_None;
    if (histogram != (counts_obj != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "observe: edges and counts must both be given or both be None");
        return NULL;
    }
    Py_buffer values, edges = {0}, counts = {0};
    if (dw_get_buffer(values_obj, &values, "observe: values", 'd', 0) != 0) {
        return NULL;
    }
    Py_ssize_t n = values.len / 8, m = 0;
    long long stack_below[STACK_EDGES];
    long long *below = stack_below;
    PyObject *result = NULL;
    int held = 0; /* edges and counts acquired */
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "observe: values is empty");
        goto done;
    }
    if (histogram) {
        if (dw_get_buffer(edges_obj, &edges, "observe: edges", 'd', 0) != 0) {
            goto done;
        }
        if (dw_get_buffer(counts_obj, &counts, "observe: counts", 'q', 1) != 0) {
            PyBuffer_Release(&edges);
            goto done;
        }
        held = 1;
        m = edges.len / 8;
        if (counts.len / 8 != m + 1) {
            PyErr_Format(PyExc_ValueError, "observe: counts has %zd bins for %zd edges (expected %zd)",
                         counts.len / 8, m, m + 1);
            goto done;
        }
        if (m > STACK_EDGES) {
            below = PyMem_Malloc((size_t)m * sizeof(long long));
            if (below == NULL) {
                PyErr_NoMemory();
                goto done;
            }
        }
    }
    const double *x = (const double *)values.buf;
    const double *e = histogram ? (const double *)edges.buf : NULL;
    double found[4];
    int finite;

    Py_BEGIN_ALLOW_THREADS
    scan(x, n, e, m, below, found);
    /* A NaN or infinity makes its square NaN or +inf, and so s2: no per-value test. The
     * min/max comparisons skip NaN, so they alone could not tell. */
    finite = isfinite(found[3]) && isfinite(found[2]);
    if (finite && histogram) {
        long long *bins = (long long *)counts.buf;
        for (Py_ssize_t j = 0; j < m; j++) {
            bins[j] += below[j];
            bins[j + 1] -= below[j];
        }
        bins[m] += (long long)n;
    }
    Py_END_ALLOW_THREADS

    if (finite) {
        result = Py_BuildValue("dddd", found[0], found[1], found[2], found[3]);
    } else {
        result = Py_NewRef(Py_None);
    }
done:
    if (below != stack_below) {
        PyMem_Free(below);
    }
    if (held) {
        PyBuffer_Release(&edges);
        PyBuffer_Release(&counts);
    }
    PyBuffer_Release(&values);
    return result;
}

/* take(values, positions, out, offset) -> None: out[offset + i] = values[positions[i]].
 *
 * The cut's gather of the kept rows into a column's reserve; positions are int64 row
 * numbers in the batch, each checked to lie in it (a ValueError names the first that
 * does not, and then out may hold some of the values). */
static PyObject *
take(PyObject *module, PyObject *args)
{
    PyObject *values_obj, *positions_obj, *out_obj;
    Py_ssize_t offset;
    if (!PyArg_ParseTuple(args, "OOOn:take", &values_obj, &positions_obj, &out_obj, &offset)) {
        return NULL;
    }
    Py_buffer values, positions, out;
    if (dw_get_buffer(values_obj, &values, "take: values", 'd', 0) != 0) {
        return NULL;
    }
    if (dw_get_buffer(positions_obj, &positions, "take: positions", 'q', 0) != 0) {
        PyBuffer_Release(&values);
        return NULL;
    }
    if (dw_get_buffer(out_obj, &out, "take: out", 'd', 1) != 0) {
        PyBuffer_Release(&positions);
        PyBuffer_Release(&values);
        return NULL;
    }
    Py_ssize_t n = values.len / 8, k = positions.len / 8, room = out.len / 8;
    PyObject *result = NULL;
    if (offset < 0 || offset > room || k > room - offset) {
        PyErr_Format(PyExc_ValueError, "take: %zd values do not fit at offset %zd of out (size %zd)",
                     k, offset, room);
        goto done;
    }
    const double *x = (const double *)values.buf;
    const long long *p = (const long long *)positions.buf;
    double *o = (double *)out.buf + offset;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k; i++) {
        long long at = p[i];
        if (at < 0 || at >= n) {
            bad = i;
            break;
        }
        o[i] = x[at];
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "take: positions[%zd] = %lld is outside values (size %zd)",
                     bad, p[bad], n);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&positions);
    PyBuffer_Release(&values);
    return result;
}

/* fill(head, tail, rows, holes, fill) -> None: head[r, holes[i]] = tail[r, fill[i]] for
 * every r in rows and every i.
 *
 * The cut's last step (ReserveGroup.finish in profile/reserve.py): the rows dropped from
 * the first k slots of every shared column's block row take the values of kept rows past
 * k, ~k/9 a column. One call for all the columns of a group, the GIL released; numpy's
 * fancy indexing, a call per column, cost ~30 us each. Every index is checked first (a
 * ValueError names the first out of range, and then nothing has changed). */
static int
dw_get_matrix(PyObject *obj, Py_buffer *view, const char *what, int writable)
{
    if (dw_get_buffer(obj, view, what, 'd', writable) != 0) {
        return -1;
    }
    if (view->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "%s: expected 2 dimensions, got %d", what, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static Py_ssize_t
dw_first_outside(const long long *p, Py_ssize_t n, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= size) {
            return i;
        }
    }
    return -1;
}

static PyObject *
fill(PyObject *module, PyObject *args)
{
    PyObject *head_obj, *tail_obj, *rows_obj, *holes_obj, *fill_obj;
    if (!PyArg_ParseTuple(args, "OOOOO:fill", &head_obj, &tail_obj, &rows_obj, &holes_obj,
                          &fill_obj)) {
        return NULL;
    }
    Py_buffer head, tail, rows = {0}, holes = {0}, from = {0};
    if (dw_get_matrix(head_obj, &head, "fill: head", 1) != 0) {
        return NULL;
    }
    if (dw_get_matrix(tail_obj, &tail, "fill: tail", 0) != 0) {
        PyBuffer_Release(&head);
        return NULL;
    }
    PyObject *result = NULL;
    if (dw_get_buffer(rows_obj, &rows, "fill: rows", 'q', 0) != 0) {
        goto done;
    }
    if (dw_get_buffer(holes_obj, &holes, "fill: holes", 'q', 0) != 0) {
        goto done;
    }
    if (dw_get_buffer(fill_obj, &from, "fill: fill", 'q', 0) != 0) {
        goto done;
    }
    Py_ssize_t n = holes.len / 8, count = rows.len / 8;
    Py_ssize_t height = head.shape[0] < tail.shape[0] ? head.shape[0] : tail.shape[0];
    Py_ssize_t width = head.shape[1], spare = tail.shape[1];
    const long long *r = (const long long *)rows.buf, *h = (const long long *)holes.buf,
                    *f = (const long long *)from.buf;
    Py_ssize_t bad;
    if (from.len / 8 != n) {
        PyErr_Format(PyExc_ValueError, "fill: %zd holes but %zd values to fill them",
                     n, from.len / 8);
        goto done;
    }
    if ((bad = dw_first_outside(r, count, height)) >= 0) {
        PyErr_Format(PyExc_ValueError, "fill: rows[%zd] = %lld is outside head and tail (%zd rows)",
                     bad, r[bad], height);
        goto done;
    }
    if ((bad = dw_first_outside(h, n, width)) >= 0) {
        PyErr_Format(PyExc_ValueError, "fill: holes[%zd] = %lld is outside head (%zd columns)",
                     bad, h[bad], width);
        goto done;
    }
    if ((bad = dw_first_outside(f, n, spare)) >= 0) {
        PyErr_Format(PyExc_ValueError, "fill: fill[%zd] = %lld is outside tail (%zd columns)",
                     bad, f[bad], spare);
        goto done;
    }
    double *out = (double *)head.buf;
    const double *in = (const double *)tail.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < count; j++) {
        double *o = out + (Py_ssize_t)r[j] * width;
        const double *x = in + (Py_ssize_t)r[j] * spare;
        for (Py_ssize_t i = 0; i < n; i++) {
            o[h[i]] = x[f[i]];
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    /* A view never acquired (or released on a mismatch) has no obj: nothing to release. */
    PyBuffer_Release(&from);
    PyBuffer_Release(&holes);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&tail);
    PyBuffer_Release(&head);
    return result;
}

/* populate(out) -> bool: fault in the pages of the writable array out ahead of its first
 * write (madvise MADV_POPULATE_WRITE, Linux 5.14), with the GIL released, so that another
 * thread can take the faults off the one that fills it (profile/reserve.py). The
 * contents do not change. Only whole pages inside out are touched; False when the system
 * cannot (another OS, an older kernel): the writes then fault them in as usual. */
static PyObject *
populate(PyObject *module, PyObject *args)
{
    PyObject *out_obj;
    if (!PyArg_ParseTuple(args, "O:populate", &out_obj)) {
        return NULL;
    }
    Py_buffer out;
    if (dw_get_buffer(out_obj, &out, "populate: out", 'd', 1) != 0) {
        return NULL;
    }
    int done = 0;
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0) {
        uintptr_t start = (uintptr_t)out.buf, end = start + (uintptr_t)out.len;
        start = (start + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
        end &= ~((uintptr_t)page - 1);
        if (end > start) {
            int rc;
            Py_BEGIN_ALLOW_THREADS
            rc = madvise((void *)start, end - start, MADV_POPULATE_WRITE);
            Py_END_ALLOW_THREADS
            done = rc == 0;
        }
    }
#endif
    PyBuffer_Release(&out);
    return PyBool_FromLong(done);
}

/* row_keys(out, start, salt): out[i] = the sampling key of row start + i
 * (profile/sampling.py RowKeys): splitmix64 of (start + i) * golden + salt, its top 53
 * bits times 2^-53. Bit for bit the numpy code's (uint64 arithmetic wraps the same way;
 * an integer below 2^53 converts to float64 exactly and the scaling is a power of two),
 * without its ten passes over temporaries: ~0.66 ms -> ~0.03 ms for 20,000 rows, which
 * every column group of a batch's rows asks for (16 groups at 1,000 features). */
static PyObject *
row_keys(PyObject *module, PyObject *args)
{
    PyObject *out_obj;
    unsigned long long start, salt;
    if (!PyArg_ParseTuple(args, "OKK:row_keys", &out_obj, &start, &salt)) {
        return NULL;
    }
    Py_buffer out;
    if (dw_get_buffer(out_obj, &out, "row_keys: out", 'd', 1) != 0) {
        return NULL;
    }
    double *o = (double *)out.buf;
    Py_ssize_t n = out.len / 8;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x = ((uint64_t)start + (uint64_t)i) * UINT64_C(0x9E3779B97F4A7C15) + salt;
        x ^= x >> 30;
        x *= UINT64_C(0xBF58476D1CE4E5B9);
        x ^= x >> 27;
        x *= UINT64_C(0x94D049BB133111EB);
        x ^= x >> 31;
        o[i] = (double)(x >> 11) * 0x1p-53;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"observe", observe, METH_VARARGS,
     "observe(values, edges, counts) -> (min, max, s1, s2) or None: one pass over a finite "
     "float64 batch column (moments shifted by its first value, histogram added in place)."},
    {"take", take, METH_VARARGS,
     "take(values, positions, out, offset): out[offset + i] = values[positions[i]]."},
    {"fill", fill, METH_VARARGS,
     "fill(head, tail, rows, holes, fill): head[r, holes[i]] = tail[r, fill[i]] for every r "
     "in rows."},
    {"populate", populate, METH_VARARGS,
     "populate(out) -> bool: fault in the pages of the writable float64 array out, "
     "contents unchanged (False when the system cannot)."},
    {"row_keys", row_keys, METH_VARARGS,
     "row_keys(out, start, salt): the sampling keys of rows start, start + 1, ... into the "
     "float64 array out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "driftwarden.native._profile",
    "One pass over a float64 batch column when profiling numerical data.", -1, methods,
};

PyMODINIT_FUNC
PyInit__profile(void)
{
    return PyModule_Create(&module);
}
