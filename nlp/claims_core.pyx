# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled parts of the context stage (nlp.claims): walks over the characters of a field.

``clause_bounds`` and ``may_ask`` find the clause around a match and whether it can be a question
(the cheap first step of the question rule, which every negatable match takes); ``jieba_block``
finds the run of text jieba segments as one block around a match. In Python these walked the
text one str object per character, or ran a regex over the whole field per match.

``starts_word`` decides whether jieba's cut of a block starts a word of two or more characters
at a given place, without cutting the block: the same dictionary walk as jieba's get_DAG and
the same scores as its calc, in typed loops over the text. In Python this walk costs a few
object allocations per character and was a fifth of the context stage.
"""
from libc.math cimport log
from libc.stdlib cimport malloc, free
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

cdef extern from "Python.h":
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)


cdef inline double _log_freq(dict freq, str frag):
    """log(freq.get(frag) or 1), as jieba's calc computes it."""
    cdef PyObject* v = PyDict_GetItem(freq, frag)
    if v == NULL or not (<object>v):
        return 0.0                  # log(1)
    return log(<double>(<object>v))


def starts_word(str block, Py_ssize_t k, dict freq, Py_ssize_t longest, double logtotal):
    """True when jieba's cut of ``block`` certainly starts a word of two or more characters at
    ``k`` (see nlp.claims._starts_word for why this needs only the text from k on).

    ``freq`` is jieba's prefix dictionary (word -> frequency, 0 for a mere prefix), ``longest``
    its longest word, ``logtotal`` log of its total frequency."""
    cdef Py_ssize_t n = len(block), i, j, x, m, best_x
    cdef PyObject* v
    cdef double score, best
    cdef double* route
    cdef Py_ssize_t* route_x
    if k < 0:
        raise ValueError("k must not be negative")
    # no dictionary word (with a frequency) from before k reaches past k
    i = k - longest if k > longest else 0
    while i < k:
        j = i + 1
        while j <= n:
            v = PyDict_GetItem(freq, block[i:j])
            if v == NULL:
                break
            if j > k and (<object>v):
                return False
            j += 1
        i += 1
    # jieba's best route over block[k:], scored from the end; only its first step matters
    m = n - k
    if m <= 0:
        return False
    route = <double*>malloc((m + 1) * sizeof(double))
    route_x = <Py_ssize_t*>malloc((m + 1) * sizeof(Py_ssize_t))
    if route == NULL or route_x == NULL:
        free(route)
        free(route_x)
        raise MemoryError()
    try:
        route[m] = 0.0
        route_x[m] = 0
        i = m - 1
        while i >= 0:
            # the words from i (get_DAG): ends x of dictionary words, or i alone when there is none
            best_x = -1
            best = 0.0
            x = i
            while x < m:
                v = PyDict_GetItem(freq, block[k + i:k + x + 1])
                if v == NULL:
                    break
                if <object>v:
                    score = log(<double>(<object>v)) - logtotal + route[x + 1]
                    if best_x < 0 or score >= best:     # max() of (score, x): the later x wins a tie
                        best, best_x = score, x
                x += 1
            if best_x < 0:
                best_x = i
                best = _log_freq(freq, block[k + i:k + i + 1]) - logtotal + route[i + 1]
            route[i] = best
            route_x[i] = best_x
            i -= 1
        return route_x[0] > 0
    finally:
        free(route)
        free(route_x)


cdef inline bint _in(Py_UCS4 c, str chars):
    cdef Py_UCS4 x
    for x in chars:
        if x == c:
            return True
    return False


def clause_bounds(str text, Py_ssize_t start, Py_ssize_t end, str breaks):
    """(lo, stop): the clause around text[start:end]. lo follows the last break before start (0
    when none), stop is the first break at or after end (len(text) when none)."""
    cdef Py_ssize_t n = len(text), lo, stop
    if start < 0 or end < start or end > n:
        raise ValueError("span outside the text")
    lo = start
    while lo > 0 and not _in(text[lo - 1], breaks):
        lo -= 1
    stop = end
    while stop < n and not _in(text[stop], breaks):
        stop += 1
    return lo, stop


def may_ask(str text, Py_ssize_t lo, Py_ssize_t end, Py_ssize_t stop):
    """The clause text[lo:stop] around a match ending at ``end`` can be a question: a ? closes it,
    the last non-space character after the match is 吗, 么 or 嘛, or it holds an A-not-A form
    (the regex (.)[不没]\\1: a character other than a newline, 不 or 没, the same character)."""
    cdef Py_ssize_t n = len(text), i
    cdef Py_UCS4 c
    if lo < 0 or lo > end or end > stop or stop > n:
        raise ValueError("bounds outside the text")
    if stop < n and text[stop] == u"?":
        return True
    i = stop
    while i > end and Py_UNICODE_ISSPACE(text[i - 1]):
        i -= 1
    if i > end:
        c = text[i - 1]
        if c == u"吗" or c == u"么" or c == u"嘛":
            return True
    i = lo
    while i + 3 <= stop:
        c = text[i + 1]
        if (c == u"不" or c == u"没") and text[i] == text[i + 2] and text[i] != u"\n":
            return True
        i += 1
    return False


cdef inline bint _jieba_char(Py_UCS4 c):
    # jieba.re_han_default: [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]
    return (0x4E00 <= c <= 0x9FD5 or u"a" <= c <= u"z" or u"A" <= c <= u"Z" or u"0" <= c <= u"9" or
            c == u"+" or c == u"#" or c == u"&" or c == u"." or c == u"_" or c == u"%" or c == u"-")


def jieba_block(str text, Py_ssize_t start):
    """(a, b): the run of text jieba cuts as one block (a match of jieba.re_han_default) when
    text[start] is inside one and not its first character, else None."""
    cdef Py_ssize_t n = len(text), a, b
    if start <= 0 or start >= n or not _jieba_char(text[start]) or not _jieba_char(text[start - 1]):
        return None
    a = start - 1
    while a > 0 and _jieba_char(text[a - 1]):
        a -= 1
    b = start + 1
    while b < n and _jieba_char(text[b]):
        b += 1
    return a, b
