/* Shared helpers of driftwarden's kernel modules: 8-byte numeric buffers from any
 * object with the buffer protocol (numpy arrays, memoryviews), checked for type and
 * layout, so a kernel never reads memory as the wrong type. */
#ifndef DRIFTWARDEN_NATIVE_COMMON_H
#define DRIFTWARDEN_NATIVE_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Fill view with a C-contiguous buffer of obj holding float64 (`kind` 'd') or int64
 * (`kind` 'q': numpy's int64 is 'l' or 'q' by platform) values, writable when asked;
 * otherwise set a TypeError naming `what` and return -1. The caller releases it. */
static inline int
dw_get_buffer(PyObject *obj, Py_buffer *view, const char *what, char kind, int writable)
{
    const char *type = kind == 'd' ? "float64" : "int64";
    int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous%s %s array", what,
                     writable ? " writable" : "", type);
        return -1;
    }
    const char *format = view->format ? view->format : "B";
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') {
        format++;
    }
    int matches = kind == 'd' ? strcmp(format, "d") == 0
                              : strcmp(format, "l") == 0 || strcmp(format, "q") == 0;
    if (view->itemsize != 8 || !matches) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s values, got format '%s'", what, type,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#endif
