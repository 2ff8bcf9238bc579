/* driftwarden.native._ecdf: kernels on samples in ascending order.
 *
 * Every function reads float64 buffers without copying and runs without the GIL, so
 * the comparison of many features can use several threads. */
#include "_common.h"

/* is_sorted(values) -> bool: True when values[i] <= values[i + 1] for every i (NaN
 * anywhere makes it False, as numpy's `values[1:] >= values[:-1]` does). One pass, no
 * temporary array. */
static PyObject *
is_sorted(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (dw_get_buffer(arg, &view, "is_sorted", 'd', 0) != 0) {
        return NULL;
    }
    const double *x = (const double *)view.buf;
    Py_ssize_t n = view.len / 8;
    int ordered = 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 1; i < n; i++) {
        if (!(x[i] >= x[i - 1])) {
            ordered = 0;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyBool_FromLong(ordered);
}

static PyMethodDef methods[] = {
    {"is_sorted", is_sorted, METH_O, "True when a float64 array is in ascending order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "driftwarden.native._ecdf",
    "Kernels on float64 samples in ascending order.", -1, methods,
};

PyMODINIT_FUNC
PyInit__ecdf(void)
{
    return PyModule_Create(&module);
}
