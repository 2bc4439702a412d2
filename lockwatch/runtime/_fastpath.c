/* The uncontended `with lock:` of the instrumented threading.Lock and RLock, in C.
 *
 * Why: before 3.12 every Python-level __enter__/__exit__ pair costs two interpreter frames
 * entered from C (the `with` statement does not inline them). Measured on 3.11 with an A/B
 * script: a wrapper whose __enter__/__exit__ only acquire and release already costs 1.89x a
 * bare lock, and a per-thread lookup adds 0.49x, before any bookkeeping: the tracer's
 * target (2.5x) is out of reach in Python there. These functions do exactly what
 * primitives.Lock/RLock.__enter__/__exit__ do in Python (that code stays the reference and the
 * fallback when this module is not built), calling back into Python for everything but the
 * common path: a new lock-order edge, contention, an interrupted acquisition, a release
 * that is not the top of this thread's stack.
 *
 * They are installed as instance methods of primitives.Lock, so `lock.__enter__` binds
 * like a Python method and `type(lock)` is unchanged. All attribute access goes through the
 * generic API (the watchdog swaps `_acq` per lock; subclasses may add attributes). The GIL
 * is held throughout; this module is not built for free-threaded interpreters.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *g_loc;            /* primitives._loc: the per-thread _thread._local */
static PyObject *g_my_held;        /* primitives.my_held() */
static PyObject *g_new_edge;       /* primitives._new_edge(hl, lock) */
static PyObject *g_interrupted;    /* primitives._interrupted(lock) */
static PyObject *g_contended;      /* primitives._contended(lock, timeout) */
static PyObject *g_release_other;  /* primitives.release_other(lock) */

static PyObject *s_acq, *s_rel, *s_hl_slot, *s_hl, *s_cls, *s_succ, *s_cnt;
static PyObject *s_minus_one, *s_zero, *s_one;

static PyObject *
fp_setup(PyObject *module, PyObject *args)
{
    PyObject *loc, *my_held, *new_edge, *interrupted, *contended, *release_other;
    if (!PyArg_ParseTuple(args, "OOOOOO:setup", &loc, &my_held, &new_edge, &interrupted,
                          &contended, &release_other)) {
        return NULL;
    }
    Py_INCREF(loc); Py_XSETREF(g_loc, loc);
    Py_INCREF(my_held); Py_XSETREF(g_my_held, my_held);
    Py_INCREF(new_edge); Py_XSETREF(g_new_edge, new_edge);
    Py_INCREF(interrupted); Py_XSETREF(g_interrupted, interrupted);
    Py_INCREF(contended); Py_XSETREF(g_contended, contended);
    Py_INCREF(release_other); Py_XSETREF(g_release_other, release_other);
    Py_RETURN_NONE;
}

/* The Python version's `except BaseException: _interrupted(self); raise`: the raw lock may
 * be held without its bookkeeping; let Python sort it out, and re-raise the original. */
static PyObject *
interrupted(PyObject *self)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (g_interrupted != NULL) {
        PyObject *r = PyObject_CallOneArg(g_interrupted, self);
        if (r == NULL) {
            PyErr_Clear();
        }
        else {
            Py_DECREF(r);
        }
    }
    PyErr_Restore(et, ev, tb);
    return NULL;
}

/* The calling thread's held stack: `_loc.hl`, made by my_held() the first time. */
static PyObject *
held_list(void)
{
    PyObject *hl = PyObject_GetAttr(g_loc, s_hl);
    if (hl == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        hl = PyObject_CallNoArgs(g_my_held);
        if (hl == NULL) {
            return NULL;
        }
    }
    if (!PyList_Check(hl)) {
        Py_DECREF(hl);
        PyErr_SetString(PyExc_TypeError, "lockwatch: held stack is not a list");
        return NULL;
    }
    return hl;
}

/* Just acquired `self`: `if hl and self._cls not in hl[-1]._succ: _new_edge(hl, self)`,
 * then `hl.append(self); self._hl = hl`. -1 with an exception set on failure. */
static int
push_held(PyObject *self, PyObject *hl)
{
    Py_ssize_t n = PyList_GET_SIZE(hl);
    if (n > 0) {
        /* a new edge goes to Python (rare: once per edge) */
        PyObject *top = PyList_GET_ITEM(hl, n - 1);
        Py_INCREF(top);
        PyObject *succ = PyObject_GetAttr(top, s_succ);
        Py_DECREF(top);
        if (succ == NULL) {
            return -1;
        }
        PyObject *cls = PyObject_GetAttr(self, s_cls);
        if (cls == NULL) {
            Py_DECREF(succ);
            return -1;
        }
        int known = PySequence_Contains(succ, cls);
        Py_DECREF(succ);
        Py_DECREF(cls);
        if (known < 0) {
            return -1;
        }
        if (!known) {
            PyObject *e = PyObject_CallFunctionObjArgs(g_new_edge, hl, self, NULL);
            if (e == NULL) {
                return -1;
            }
            Py_DECREF(e);
        }
    }
    if (PyList_Append(hl, self) < 0) {
        return -1;
    }
    return PyObject_SetAttr(self, s_hl_slot, hl);
}

/* `self._acq(False)`: 1 acquired, 0 not, -1 error. */
static int
try_acquire(PyObject *self)
{
    PyObject *acq = PyObject_GetAttr(self, s_acq);
    if (acq == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallOneArg(acq, Py_False);
    Py_DECREF(acq);
    if (r == NULL) {
        return -1;
    }
    int got = PyObject_IsTrue(r);
    Py_DECREF(r);
    return got;
}

static int
call_method0(PyObject *self, PyObject *name)
{
    PyObject *m = PyObject_GetAttr(self, name);
    if (m == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallNoArgs(m);
    Py_DECREF(m);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* After the raw release: pop `self` off the stack it was pushed on, or hand over to
 * release_other() (out of order, or another thread's stack). */
static PyObject *
pop_held(PyObject *self)
{
    PyObject *hl = PyObject_GetAttr(self, s_hl_slot);
    if (hl == NULL) {
        return NULL;
    }
    if (PyList_Check(hl)) {
        Py_ssize_t n = PyList_GET_SIZE(hl);
        if (n > 0 && PyList_GET_ITEM(hl, n - 1) == self) {
            int rc = PyList_SetSlice(hl, n - 1, n, NULL);  /* hl.pop() */
            Py_DECREF(hl);
            if (rc < 0) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
    }
    Py_DECREF(hl);
    PyObject *o = PyObject_CallOneArg(g_release_other, self);
    if (o == NULL) {
        return NULL;
    }
    Py_DECREF(o);
    Py_RETURN_NONE;
}

static int
ready(void)
{
    if (g_loc == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "lockwatch._fastpath used before setup()");
        return 0;
    }
    return 1;
}

/* primitives.Lock.__enter__ */
static PyObject *
fp_enter(PyObject *module, PyObject *self)
{
    if (!ready()) {
        return NULL;
    }
    int got = try_acquire(self);
    if (got < 0) {
        return interrupted(self);
    }
    if (!got) {
        return PyObject_CallFunctionObjArgs(g_contended, self, s_minus_one, NULL);
    }
    PyObject *hl = held_list();
    if (hl == NULL) {
        return interrupted(self);
    }
    int rc = push_held(self, hl);
    Py_DECREF(hl);
    if (rc < 0) {
        return interrupted(self);
    }
    Py_RETURN_TRUE;
}

/* primitives.Lock.__exit__ */
static PyObject *
fp_exit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "__exit__ needs the lock");
        return NULL;
    }
    PyObject *self = args[0];
    if (call_method0(self, s_rel) < 0) {
        return NULL;  /* e.g. RuntimeError: release unlocked lock, as the raw lock says */
    }
    return pop_held(self);
}

/* primitives.RLock.__enter__: `_cnt` mirrors the C RLock's recursion count. */
static PyObject *
fp_rlock_enter(PyObject *module, PyObject *self)
{
    if (!ready()) {
        return NULL;
    }
    PyObject *hl = held_list();
    if (hl == NULL) {
        return NULL;
    }
    PyObject *cnt = PyObject_GetAttr(self, s_cnt);
    if (cnt == NULL) {
        Py_DECREF(hl);
        return NULL;
    }
    int held = PyObject_IsTrue(cnt);
    if (held < 0) {
        Py_DECREF(cnt);
        Py_DECREF(hl);
        return NULL;
    }
    if (held) {
        PyObject *cur = PyObject_GetAttr(self, s_hl_slot);
        if (cur == NULL) {
            Py_DECREF(cnt);
            Py_DECREF(hl);
            return NULL;
        }
        int mine = cur == hl;
        Py_DECREF(cur);
        if (mine) {  /* re-entry: never blocks, adds no edge */
            Py_DECREF(hl);
            if (call_method0(self, s_acq) < 0) {
                Py_DECREF(cnt);
                return NULL;
            }
            PyObject *next = PyNumber_Add(cnt, s_one);
            Py_DECREF(cnt);
            if (next == NULL) {
                return NULL;
            }
            int rc = PyObject_SetAttr(self, s_cnt, next);
            Py_DECREF(next);
            if (rc < 0) {
                return NULL;
            }
            Py_RETURN_TRUE;
        }
    }
    Py_DECREF(cnt);
    int got = try_acquire(self);
    if (got < 0) {
        Py_DECREF(hl);
        return interrupted(self);
    }
    if (got) {
        int rc = push_held(self, hl);
        Py_DECREF(hl);
        if (rc < 0 || PyObject_SetAttr(self, s_cnt, s_one) < 0) {
            return interrupted(self);
        }
        Py_RETURN_TRUE;
    }
    Py_DECREF(hl);
    PyObject *ok = PyObject_CallFunctionObjArgs(g_contended, self, s_minus_one, NULL);
    if (ok == NULL) {
        return NULL;
    }
    int t = PyObject_IsTrue(ok);
    if (t < 0 || (t && PyObject_SetAttr(self, s_cnt, s_one) < 0)) {
        Py_DECREF(ok);
        return NULL;
    }
    return ok;
}

/* primitives.RLock.__exit__ */
static PyObject *
fp_rlock_exit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "__exit__ needs the lock");
        return NULL;
    }
    PyObject *self = args[0];
    if (call_method0(self, s_rel) < 0) {
        return NULL;  /* RuntimeError when not owned, before any bookkeeping */
    }
    PyObject *cnt = PyObject_GetAttr(self, s_cnt);
    if (cnt == NULL) {
        return NULL;
    }
    PyObject *c = PyNumber_Subtract(cnt, s_one);
    Py_DECREF(cnt);
    if (c == NULL) {
        return NULL;
    }
    int more = PyObject_RichCompareBool(c, s_zero, Py_GT);
    if (more < 0) {
        Py_DECREF(c);
        return NULL;
    }
    if (more) {
        int rc = PyObject_SetAttr(self, s_cnt, c);
        Py_DECREF(c);
        if (rc < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    Py_DECREF(c);
    if (PyObject_SetAttr(self, s_cnt, s_zero) < 0) {
        return NULL;
    }
    return pop_held(self);
}

static PyMethodDef fp_methods[] = {
    {"setup", fp_setup, METH_VARARGS, "setup(loc, my_held, new_edge, interrupted, contended, release_other)"},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef enter_def = {"__enter__", (PyCFunction)fp_enter, METH_O, "primitives.Lock.__enter__ in C"};
static PyMethodDef exit_def = {"__exit__", (PyCFunction)(void (*)(void))fp_exit, METH_FASTCALL,
                               "primitives.Lock.__exit__ in C"};
static PyMethodDef rlock_enter_def = {"__enter__", (PyCFunction)fp_rlock_enter, METH_O,
                                      "primitives.RLock.__enter__ in C"};
static PyMethodDef rlock_exit_def = {"__exit__", (PyCFunction)(void (*)(void))fp_rlock_exit, METH_FASTCALL,
                                     "primitives.RLock.__exit__ in C"};

static struct PyModuleDef fp_module = {
    PyModuleDef_HEAD_INIT, "lockwatch.runtime._fastpath",
    "C fast path of the instrumented threading.Lock (see _fastpath.c).", -1, fp_methods,
};

static int
add_method(PyObject *m, PyMethodDef *def, const char *name)
{
    PyObject *f = PyCFunction_New(def, NULL);
    if (f == NULL) {
        return -1;
    }
    /* an instancemethod binds like a Python function: lock.__enter__ -> bound method */
    PyObject *im = PyInstanceMethod_New(f);
    Py_DECREF(f);
    if (im == NULL) {
        return -1;
    }
    if (PyModule_AddObject(m, name, im) < 0) {
        Py_DECREF(im);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC
PyInit__fastpath(void)
{
    s_acq = PyUnicode_InternFromString("_acq");
    s_rel = PyUnicode_InternFromString("_rel");
    s_hl_slot = PyUnicode_InternFromString("_hl");
    s_hl = PyUnicode_InternFromString("hl");
    s_cls = PyUnicode_InternFromString("_cls");
    s_succ = PyUnicode_InternFromString("_succ");
    s_cnt = PyUnicode_InternFromString("_cnt");
    s_minus_one = PyLong_FromLong(-1);
    s_zero = PyLong_FromLong(0);
    s_one = PyLong_FromLong(1);
    if (!s_acq || !s_rel || !s_hl_slot || !s_hl || !s_cls || !s_succ || !s_cnt || !s_minus_one
            || !s_zero || !s_one) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&fp_module);
    if (m == NULL) {
        return NULL;
    }
    if (add_method(m, &enter_def, "enter") < 0 || add_method(m, &exit_def, "exit") < 0
            || add_method(m, &rlock_enter_def, "rlock_enter") < 0
            || add_method(m, &rlock_exit_def, "rlock_exit") < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
