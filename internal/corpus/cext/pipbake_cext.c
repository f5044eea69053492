/* pipbake_cext: a tiny C extension module that internal/corpus builds with
 * gcc against a real interpreter's headers, so installers are tested on a
 * platlib wheel with a shared object in it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
pipbake_cext_add(PyObject *self, PyObject *args)
{
    long a, b;
    if (!PyArg_ParseTuple(args, "ll:add", &a, &b)) {
        return NULL;
    }
    return PyLong_FromLong(a + b);
}

static PyMethodDef pipbake_cext_methods[] = {
    {"add", pipbake_cext_add, METH_VARARGS, "add(a, b) -> a + b"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pipbake_cext_module = {
    PyModuleDef_HEAD_INIT,
    "pipbake_cext",
    "A tiny extension module used by pipbake's tests.",
    -1,
    pipbake_cext_methods,
};

PyMODINIT_FUNC
PyInit_pipbake_cext(void)
{
    PyObject *m = PyModule_Create(&pipbake_cext_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "__version__", PIPBAKE_CEXT_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
