# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The normaliser's character pass (nlp/normalize.py), compiled.

One call reads a text and gives what ``Normalizer._basic`` needs for ordinary text:

- ``conv``: the text translated through the NFKC + lower-case + tone + emoji table (exactly what
  ``str.translate`` with that table gives);
- ``out`` and ``drops``: ``conv`` without the characters the normaliser drops (a stretch of
  separators between two word characters, every run of invisible characters), and those ranges;
- flags: a character OpenCC t2s converts (nlp/normalize.py then converts, and calls again on the
  converted text without translating), the hint of vertical or spelled-out text (it then adds those
  drops in Python), and whether ``out`` may hold a homophone or pinyin spelling (without it, the
  substitution pass is skipped).

Why compiled: in Python the same work cost a regex callback per run of changed characters and five
regex passes per field (about 17 us per 120-character field, nearly all of the normaliser); here it
is a few loops over a C array. The tables are built in nlp/normalize.py (_bmp_tables, _core).
"""
cimport cython
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memcpy, memset

cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void *buffer, Py_ssize_t size)
    int PyUnicode_4BYTE_KIND
    int PyUnicode_KIND(object text)
    void *PyUnicode_DATA(object text)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index)

# character classes, one byte per BMP character (built in nlp/normalize.py, _bmp_tables); astral
# characters are classified by range here (classify), the ranges of INVISIBLE and WORD there, and
# U+20000-U+3FFFF for t2s
cdef enum:
    DROP = 1      # separator or invisible: may be dropped
    INV = 2       # INVISIBLE
    WORD = 4      # WORD: CJK ideographs and a-z, between which separators are dropped
    CJK = 8       # BMP ideographs (_CJK): what vertical and spelled-out text is made of
    T2S = 16      # OpenCC t2s converts it on its own
    BLANK = 32    # space, tab, ideographic space (inside vertical/spelled-out hints)
    VARIANT = 64  # a whole one-character variant spelling (watch())
    OPENS = 128   # the first character of a longer variant spelling (watch())

# map value: the table gives something other than one BMP character: ask the table itself
cdef Py_UCS4 ASK = 0xFFFFFFFF

# flags returned by run()
T2S_FOUND = 1
VERTICAL_HINT = 2
VARIANT_HINT = 4    # the output may hold a watched variant spelling (no hint: it holds none)


# the variant filter: a Bloom filter (two bits per key, 2**17 bits) over each variant's first three
# characters (its first two when it has two); NO_CHAR stands for the missing third
cdef Py_UCS4 NO_CHAR = 0x110000


cdef inline unsigned int key_hash(Py_UCS4 a, Py_UCS4 b, Py_UCS4 c) noexcept nogil:
    cdef unsigned int x = a, y = b, z = c
    x = (x * 0x45D9F3B) ^ y
    x = (x * 0x45D9F3B) ^ z
    x = (x ^ (x >> 16)) * 0x45D9F3B
    return x ^ (x >> 16)


@cython.final
cdef class Core:
    """One normaliser's tables: ``mapping`` (65536 code points, uint32: the translated character,
    or 0xFFFFFFFF for "ask ``table``"), ``classes`` (65536 bytes of class bits), ``table`` (the
    str.translate table, for astral characters and those that expand), ``astral_seps`` (separators
    outside the BMP)."""

    cdef Py_UCS4 *map
    cdef unsigned char *cls
    cdef object table
    cdef Py_UCS4 *astral_seps
    cdef Py_ssize_t n_astral
    cdef bint overlap       # a separator is also a word character (a-z or CJK)
    cdef unsigned char keys[16384]     # the variant filter (2**17 bits)
    cdef bint watching

    def __cinit__(self, const unsigned int[::1] mapping, const unsigned char[::1] classes, table,
                  astral_seps):
        if mapping.shape[0] != 0x10000 or classes.shape[0] != 0x10000:
            raise ValueError("mapping and classes must cover the BMP (65536 entries each)")
        self.map = <Py_UCS4 *>PyMem_Malloc(0x10000 * sizeof(Py_UCS4))
        self.cls = <unsigned char *>PyMem_Malloc(0x10000)
        if self.map == NULL or self.cls == NULL:
            raise MemoryError()
        memcpy(self.map, &mapping[0], 0x10000 * sizeof(Py_UCS4))
        memcpy(self.cls, &classes[0], 0x10000)
        self.table = table
        seps = sorted(set(astral_seps))
        self.astral_seps = <Py_UCS4 *>PyMem_Malloc((len(seps) + 1) * sizeof(Py_UCS4))
        if self.astral_seps == NULL:
            raise MemoryError()
        for i, sep in enumerate(seps):
            self.astral_seps[i] = sep
        self.n_astral = len(seps)
        self.overlap = False
        for i in range(0x10000):
            if self.cls[i] & DROP and self.cls[i] & WORD:
                self.overlap = True
        for i in range(self.n_astral):
            if self.classify(self.astral_seps[i]) & WORD:
                self.overlap = True

    def watch(self, variants):
        """Report (VARIANT_HINT) when the output may hold one of these strings; without the flag
        it holds none, so the substitution pass can be skipped. The filter is on each variant's
        first three characters (a shorter variant: all of it)."""
        cdef Py_UCS4 a
        cdef Py_ssize_t i
        memset(self.keys, 0, sizeof(self.keys))
        for i in range(0x10000):
            self.cls[i] &= ~(VARIANT | OPENS)
        self.watching = True
        for variant in variants:
            if len(variant) == 1:
                a = variant[0]
                if a >= 0x10000:
                    self.watching = False       # no filter for this one: always substitute
                    return
                self.cls[a] |= VARIANT
            elif len(variant) > 1:
                a = variant[0]
                if a < 0x10000:
                    self.cls[a] |= OPENS
                self.add_key(key_hash(variant[0], variant[1], variant[2] if len(variant) > 2 else NO_CHAR))

    cdef inline void add_key(self, unsigned int h) noexcept:
        self.keys[(h & 0x1FFFF) >> 3] |= 1 << (h & 7)
        self.keys[(h >> 15) >> 3] |= 1 << ((h >> 15) & 7)

    cdef inline bint has_key(self, unsigned int h) noexcept nogil:
        return (self.keys[(h & 0x1FFFF) >> 3] & (1 << (h & 7))
                and self.keys[(h >> 15) >> 3] & (1 << ((h >> 15) & 7)))

    def __dealloc__(self):
        PyMem_Free(self.map)
        PyMem_Free(self.cls)
        PyMem_Free(self.astral_seps)

    cdef inline unsigned char classify(self, Py_UCS4 c) noexcept nogil:
        cdef unsigned char f = 0
        cdef Py_ssize_t i
        if c < 0x10000:
            return self.cls[c]
        if 0x1F000 <= c <= 0x1FAFF or 0xE0000 <= c <= 0xE007F:
            return DROP | INV
        if 0x20000 <= c <= 0x2EBEF:
            f = WORD
        if 0x20000 <= c <= 0x3FFFF:
            f |= T2S
        for i in range(self.n_astral):
            if self.astral_seps[i] == c:
                f |= DROP
        return f

    def run(self, str text not None, bint translate=True):
        """(conv, out, drops, flags) for ``text``; without ``translate`` the text is taken as
        already translated (conv is text)."""
        cdef Py_ssize_t n = len(text), m = 0, cap = n + 16, i, p, q, j, k, o
        cdef Py_UCS4 c, v, close
        cdef unsigned char f, seen = 0
        cdef bint changed = False
        cdef Py_UCS4 *buf = <Py_UCS4 *>PyMem_Malloc(cap * sizeof(Py_UCS4))
        cdef Py_UCS4 *out = NULL
        cdef Py_UCS4 *grown
        cdef int flags = 0
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        cdef const Py_UCS4 *table = self.map
        cdef const unsigned char *cls = self.cls
        if buf == NULL:
            raise MemoryError()
        try:
            # pass 1: translate (what str.translate(table) gives)
            for i in range(n):
                c = PyUnicode_READ(kind, data, i)
                if translate:
                    v = table[c] if c < 0x10000 else ASK
                    if v == ASK:
                        value = self.table[<long>c]
                        if isinstance(value, int):
                            v = <Py_UCS4><long>value
                        else:
                            if m + len(value) + (n - i) > cap:
                                cap = 2 * (m + len(value) + (n - i))
                                grown = <Py_UCS4 *>PyMem_Realloc(buf, cap * sizeof(Py_UCS4))
                                if grown == NULL:
                                    raise MemoryError()
                                buf = grown
                            for v in <str>value:
                                buf[m] = v
                                m += 1
                                seen |= self.classify(v)
                            changed = True
                            continue
                    if v != c:
                        changed = True
                    c = v
                    seen |= self.classify(c)
                buf[m] = c
                m += 1
            if translate and seen & T2S:
                flags |= T2S_FOUND

            # pass 2: the drops, the matches of a regex with lookarounds (Normalizer._basic_flagged
            # spells it): at a droppable character p, if the character before p is a word
            # character, the longest stretch of droppable characters from p that is followed by a
            # word character goes; else a run of invisible characters from p goes; else p stays.
            # The next try starts after what went, or at p + 1.
            out = <Py_UCS4 *>PyMem_Malloc((m + 1) * sizeof(Py_UCS4))
            if out == NULL:
                raise MemoryError()
            drops = []
            o = 0
            p = 0
            q = 0           # end of the run of droppable characters holding p (when p < q)
            while p < m:
                c = buf[p]
                f = self.classify(c)
                if not f & DROP:
                    out[o] = c
                    o += 1
                    p += 1
                    continue
                if q <= p:
                    q = p + 1
                    while q < m and self.classify(buf[q]) & DROP:
                        q += 1
                if p > 0 and self.classify(buf[p - 1]) & WORD:
                    j = q
                    if not (j < m and self.classify(buf[j]) & WORD):
                        j = 0
                        if self.overlap:        # a separator that is a word character ends a stretch
                            j = q - 1
                            while j > p and not self.classify(buf[j]) & WORD:
                                j -= 1
                            if j == p:
                                j = 0
                    if j:
                        drops.append((p, j))
                        p = j
                        continue
                if f & INV:
                    k = p + 1
                    while k < m and self.classify(buf[k]) & INV:
                        k += 1
                    drops.append((p, k))
                    p = k
                    continue
                out[o] = c
                o += 1
                p += 1

            # vertical or spelled-out text: a CJK character between two line breaks or two commas
            # (blanks around it allowed), as _LINES_HINT / _SPELLED_HINT in nlp/normalize.py
            for p in range(m):
                c = buf[p]
                if c == u'\n':
                    close = u'\n'
                elif c == u',' or c == u'、':
                    close = u','
                else:
                    continue
                j = p + 1
                while j < m and buf[j] < 0x10000 and cls[buf[j]] & BLANK:
                    j += 1
                if j >= m or buf[j] >= 0x10000 or not cls[buf[j]] & CJK:
                    continue
                j += 1
                while j < m and buf[j] < 0x10000 and cls[buf[j]] & BLANK:
                    j += 1
                if j < m and (buf[j] == close or (close == u',' and buf[j] == u'、')):
                    flags |= VERTICAL_HINT
                    break

            if translate and (changed or m != n):
                conv = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, m)
            else:
                conv = text
            if self.watching:
                for p in range(o):
                    c = out[p]
                    if c < 0x10000 and not cls[c] & (VARIANT | OPENS):
                        continue
                    if c < 0x10000 and cls[c] & VARIANT:
                        flags |= VARIANT_HINT
                        break
                    if p + 1 < o and (self.has_key(key_hash(c, out[p + 1], NO_CHAR)) or p + 2 < o
                                      and self.has_key(key_hash(c, out[p + 1], out[p + 2]))):
                        flags |= VARIANT_HINT
                        break
            else:
                flags |= VARIANT_HINT
            res = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, o) if drops else conv
            return conv, res, drops, flags
        finally:
            PyMem_Free(buf)
            PyMem_Free(out)
