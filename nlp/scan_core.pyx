# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The per-field dispatch of the candidate scan (nlp/scan.py), compiled.

The automaton reports some twenty words per field; each word carries phrase targets, the patterns it
triggers (tried anchored where it starts) and the gate sets it belongs to. ``Table.hits`` turns one
field's reports into hits, in the order the scan has always given them:

- phrase hits, by end of the word, longest first;
- then the patterns' hits, in the order of their trigger words (pattern order within a word);
- then the "anywhere" patterns' matches, in pattern order (searched by nlp.scan.find_near).

A gate set is a run of literal parts of one alternative of a pattern: every match of the alternative
contains one of its strings. A triggered pattern is tried only when, for one of the alternatives that
can start at the trigger, a string of each of its gate sets was seen inside the span a match could
cover from there (its width; to the end of the text when unknown); an anywhere pattern is searched
only when all gate sets of one of its alternatives were seen in the text. A try that fails those
checks cannot match: most tries used to fail exactly so, at a few microseconds each (a disease list
of some hundred alternatives after a gap that nothing in the text could fill).

Why compiled: in Python the bookkeeping (sorting the reports, a dict of spots, tuples per word and
per try, the gate checks) cost more than the matching it arranges; here it is loops over C arrays,
and Python is called only to match and to build the hits.
"""
cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc


cdef class Hit:
    """One candidate: normalised offsets, the list entry, the phrase (or pattern match) it stands for,
    and how it was spelled ("", "pinyin" or "initials")."""
    cdef public object start
    cdef public object end
    cdef public object entry
    cdef public object phrase
    cdef public object how

    def __init__(self, start, end, entry, phrase, how=""):
        self.start, self.end, self.entry, self.phrase, self.how = start, end, entry, phrase, how

    def __repr__(self):
        return f"Hit({self.start!r}, {self.end!r}, {getattr(self.entry, 'id', self.entry)!r}, {self.phrase!r}, {self.how!r})"

    def __eq__(self, other):
        if not isinstance(other, Hit):
            return NotImplemented
        o = <Hit>other
        return (self.start, self.end, self.entry, self.phrase, self.how) == (o.start, o.end, o.entry, o.phrase, o.how)

    __hash__ = None


cdef inline Hit new_hit(object start, object end, object entry, object phrase, object how):
    cdef Hit h = Hit.__new__(Hit)
    h.start, h.end, h.entry, h.phrase, h.how = start, end, entry, phrase, how
    return h


cdef int *int_array(list values, int bound) except NULL:
    """A C copy of a list of ints, each checked to be below ``bound`` (-1: any)."""
    cdef Py_ssize_t i, n = len(values)
    cdef int v
    cdef int *out = <int *>PyMem_Malloc((n + 1) * sizeof(int))
    if out == NULL:
        raise MemoryError()
    for i in range(n):
        v = values[i]
        if bound >= 0 and not 0 <= v < bound:
            PyMem_Free(out)
            raise ValueError(f"index {v} out of range {bound}")
        out[i] = v
    return out


cdef int *offsets(list off, Py_ssize_t count, Py_ssize_t items) except NULL:
    """Offsets of ``count`` lists into ``items`` flat items, checked."""
    cdef Py_ssize_t i
    if len(off) != count + 1 or off[0] != 0 or off[count] != items or \
            any(off[i] > off[i + 1] for i in range(count)):
        raise ValueError("bad offsets")
    return int_array(off, -1)


cdef struct Reports:
    # what the automaton found in one text, by end, longest first: word, start, end per report
    int n
    int cap
    int *data


cdef int report(Reports *r, int word, int start, int end) except -1:
    cdef int *grown
    if r.n == r.cap:
        grown = <int *>PyMem_Realloc(r.data, 3 * (2 * r.cap + 16) * sizeof(int))
        if grown == NULL:
            raise MemoryError()
        r.data, r.cap = grown, 2 * r.cap + 16
    r.data[3 * r.n], r.data[3 * r.n + 1], r.data[3 * r.n + 2] = word, start, end
    r.n += 1
    return 0


@cython.final
cdef class Automaton:
    """Aho-Corasick over the code points of a str: every occurrence of every word (overlapping),
    reported by end, longest first, into C arrays.

    Characters are mapped to classes (those in no word share class 0, which sends the search back
    to the root at once); the root's transitions are a table over the classes, the other states'
    are their few children, sorted by class. Reading the str's own code points spares the UTF-8
    copy and the offset mapping of a byte automaton, and the reports are never Python objects.
    """
    cdef int nstates, nclasses, nwords, nastral
    cdef unsigned short *bmp_class        # class of each BMP code point
    cdef Py_UCS4 *astral_cp               # other code points in words, sorted, and their classes
    cdef int *astral_class
    cdef int *root_next                   # state after the root on each class (0: stay)
    cdef int *child_off                   # children of state s: child_off[s]..child_off[s + 1]
    cdef int *child_class
    cdef int *child_state
    cdef int *fail
    cdef int *out_word                    # the word that ends at a state, or -1
    cdef int *out_link                    # the nearest proper suffix state where a word ends, or 0
    cdef int *word_len

    def __cinit__(self):
        self.bmp_class = NULL
        self.astral_cp = NULL
        self.astral_class = self.root_next = self.child_off = self.child_class = self.child_state = NULL
        self.fail = self.out_word = self.out_link = self.word_len = NULL

    def __init__(self, list words):
        from collections import deque
        cdef Py_ssize_t i
        classes: dict = {}
        children: list = [{}]
        out_word: list = [-1]
        for i, w in enumerate(words):
            if not isinstance(w, str) or not w:
                raise ValueError(f"automaton words are non-empty strings, not {w!r}")
            s = 0
            for ch in w:
                c = classes.setdefault(ch, len(classes) + 1)
                t = children[s].get(c)
                if t is None:
                    t = len(children)
                    children[s][c] = t
                    children.append({})
                    out_word.append(-1)
                s = t
            if out_word[s] != -1:
                raise ValueError(f"automaton word twice: {w!r}")
            out_word[s] = i
        n = len(children)
        fail, out_link = [0] * n, [0] * n
        queue = deque(children[0].values())
        while queue:
            s = queue.popleft()
            for c, t in children[s].items():
                f = fail[s]
                while f and c not in children[f]:
                    f = fail[f]
                fail[t] = children[f].get(c, 0) if s else 0
                ft = fail[t]
                out_link[t] = ft if out_word[ft] >= 0 else out_link[ft]
                queue.append(t)
        self.nstates, self.nclasses, self.nwords = n, len(classes) + 1, len(words)
        if self.nclasses > 0xFFFF:
            raise ValueError("too many distinct characters in the automaton's words")
        self.bmp_class = <unsigned short *>PyMem_Malloc(65536 * sizeof(unsigned short))
        if self.bmp_class == NULL:
            raise MemoryError()
        for i in range(65536):
            self.bmp_class[i] = 0
        astral = sorted((ord(ch), c) for ch, c in classes.items() if ord(ch) > 0xFFFF)
        self.nastral = len(astral)
        self.astral_cp = <Py_UCS4 *>PyMem_Malloc((self.nastral + 1) * sizeof(Py_UCS4))
        if self.astral_cp == NULL:
            raise MemoryError()
        for i in range(self.nastral):
            self.astral_cp[i] = astral[i][0]
        self.astral_class = int_array([c for _, c in astral], -1)
        for ch, c in classes.items():
            if ord(ch) <= 0xFFFF:
                self.bmp_class[ord(ch)] = c
        root = [0] * self.nclasses
        for c, t in children[0].items():
            root[c] = t
        self.root_next = int_array(root, -1)
        off, cls, to = [0], [], []
        for s in range(n):
            for c in sorted(children[s]):
                cls.append(c)
                to.append(children[s][c])
            off.append(len(cls))
        self.child_off, self.child_class, self.child_state = int_array(off, -1), int_array(cls, -1), int_array(to, -1)
        self.fail, self.out_word, self.out_link = int_array(fail, -1), int_array(out_word, -1), int_array(out_link, -1)
        self.word_len = int_array([len(w) for w in words], -1)

    def __dealloc__(self):
        PyMem_Free(self.bmp_class)
        PyMem_Free(self.astral_cp)
        PyMem_Free(self.astral_class)
        PyMem_Free(self.root_next)
        PyMem_Free(self.child_off)
        PyMem_Free(self.child_class)
        PyMem_Free(self.child_state)
        PyMem_Free(self.fail)
        PyMem_Free(self.out_word)
        PyMem_Free(self.out_link)
        PyMem_Free(self.word_len)

    cdef inline int char_class(self, Py_UCS4 c):
        cdef int lo = 0, hi = self.nastral, mid
        if c <= 0xFFFF:
            return self.bmp_class[c]
        while lo < hi:
            mid = (lo + hi) // 2
            if self.astral_cp[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        if lo < self.nastral and self.astral_cp[lo] == c:
            return self.astral_class[lo]
        return 0

    cdef inline int child(self, int s, int c):
        cdef int lo = self.child_off[s], hi = self.child_off[s + 1], mid
        while hi - lo > 4:                  # keep [lo, hi) holding c, if it is there
            mid = (lo + hi) // 2
            if self.child_class[mid] < c:
                lo = mid + 1
            else:
                hi = mid + 1
        while lo < hi:
            if self.child_class[lo] == c:
                return self.child_state[lo]
            lo += 1
        return 0

    cdef int find(self, str text, Reports *r) except -1:
        cdef Py_ssize_t i, n = len(text)
        cdef int s = 0, t, c, o, w
        if n >= 0x7FFFFFFF:
            raise ValueError("text too long to scan")
        for i in range(n):
            c = self.char_class(text[i])
            if c == 0:
                s = 0
                continue
            while True:
                if s == 0:
                    s = self.root_next[c]
                    break
                t = self.child(s, c)
                if t:
                    s = t
                    break
                s = self.fail[s]
            o = s if self.out_word[s] >= 0 else self.out_link[s]
            while o:
                w = self.out_word[o]
                report(r, w, <int>(i + 1) - self.word_len[w], <int>(i + 1))
                o = self.out_link[o]
        return 0

    def matches(self, str text):
        """[(word index, start, end)] of every occurrence, by end, longest first."""
        cdef Reports r
        cdef int k
        r.n, r.cap, r.data = 0, 0, NULL
        try:
            self.find(text, &r)
            return [(r.data[3 * k], r.data[3 * k + 1], r.data[3 * k + 2]) for k in range(r.n)]
        finally:
            PyMem_Free(r.data)

    @property
    def words(self):
        return self.nwords


cdef enum:
    UNSEEN = -1


@cython.final
cdef class Table:
    """The automaton's words and what each stands for, as offset tables (word w owns items
    off[w]..off[w+1]):

    words:    the automaton's words (non-empty, each once)
    targets:  ((entry, phrase, how) per phrase target, offsets per word)
    triggers: (try index per try the word triggers, offsets per word)
    sets:     (gate set index per gate set the word is a string of, offsets per word)
    spots:    (anywhere index per anywhere pattern the word is a required literal of, offsets per word)
    tries:    (pattern index per try, group indexes per try, offsets per try): a try runs when all the
              gate sets of one of its groups were seen within the pattern's width from the try
    groups:   (gate set indexes per group, offsets per group)
    patterns: (entry, match, plain) per triggered pattern: plain when ``match`` is a Python ``re``
              match method, else a function (text, pos, budget) -> end or 0 (nlp.scan.anchored)
    widths:   the most characters a match of each pattern spans, -1 when unknown
    anywhere: (entry, gated, width) per pattern searched with find_near
    anywhere_groups: (group indexes per anywhere pattern, offsets per anywhere pattern): searched only
              when all the gate sets of one of its groups were seen in the text
    """
    cdef int nwords, npatterns, nanywhere, ntries, ngroups, nsets
    cdef int *tgt_off
    cdef int *trg_off
    cdef int *trg_try
    cdef int *set_off
    cdef int *set_id
    cdef int *spot_off
    cdef int *spot_any
    cdef int *try_pat
    cdef int *try_grp
    cdef int *try_off
    cdef int *grp_set
    cdef int *grp_off
    cdef int *widths
    cdef int *any_grp
    cdef int *any_off
    cdef list targets, patterns, anywhere, pattern_ids
    cdef object find_near, latin_bounded
    cdef readonly Automaton automaton

    def __cinit__(self):
        self.tgt_off = self.trg_off = self.trg_try = self.set_off = self.set_id = NULL
        self.spot_off = self.spot_any = self.try_pat = self.try_grp = self.try_off = NULL
        self.grp_set = self.grp_off = self.widths = self.any_grp = self.any_off = NULL

    def __init__(self, *, list words, tuple targets, tuple triggers, tuple sets, tuple spots, tuple tries, tuple groups,
                 int nsets, list patterns, list widths, list anywhere, tuple anywhere_groups, find_near,
                 latin_bounded):
        self.npatterns, self.nanywhere, self.nsets = len(patterns), len(anywhere), nsets
        self.nwords = len(words)
        self.automaton = Automaton(words)
        self.ntries = len(tries[0])
        self.ngroups = len(groups[1]) - 1
        if len(widths) != self.npatterns:
            raise ValueError("one width per pattern")
        self.targets, self.patterns, self.anywhere = list(targets[0]), patterns, anywhere
        self.pattern_ids = [p[0].id for p in patterns]
        self.tgt_off = offsets(targets[1], self.nwords, len(targets[0]))
        self.trg_try = int_array(triggers[0], self.ntries)
        self.trg_off = offsets(triggers[1], self.nwords, len(triggers[0]))
        self.set_id = int_array(sets[0], nsets)
        self.set_off = offsets(sets[1], self.nwords, len(sets[0]))
        self.spot_any = int_array(spots[0], self.nanywhere)
        self.spot_off = offsets(spots[1], self.nwords, len(spots[0]))
        self.try_pat = int_array(tries[0], self.npatterns)
        self.try_grp = int_array(tries[1], self.ngroups)
        self.try_off = offsets(tries[2], self.ntries, len(tries[1]))
        self.grp_set = int_array(groups[0], nsets)
        self.grp_off = offsets(groups[1], self.ngroups, len(groups[0]))
        self.widths = int_array(widths, -1)
        self.any_grp = int_array(anywhere_groups[0], self.ngroups)
        self.any_off = offsets(anywhere_groups[1], self.nanywhere, len(anywhere_groups[0]))
        self.find_near, self.latin_bounded = find_near, latin_bounded

    def __dealloc__(self):
        PyMem_Free(self.tgt_off)
        PyMem_Free(self.trg_off)
        PyMem_Free(self.trg_try)
        PyMem_Free(self.set_off)
        PyMem_Free(self.set_id)
        PyMem_Free(self.spot_off)
        PyMem_Free(self.spot_any)
        PyMem_Free(self.try_pat)
        PyMem_Free(self.try_grp)
        PyMem_Free(self.try_off)
        PyMem_Free(self.grp_set)
        PyMem_Free(self.grp_off)
        PyMem_Free(self.widths)
        PyMem_Free(self.any_grp)
        PyMem_Free(self.any_off)

    cdef bint may_match(self, int *grp, int lo, int hi_grp, int start, int width,
                        int *head, int *nxt, int *ostart, int *oend):
        """Whether all gate sets of one of the groups grp[lo:hi_grp] were seen inside
        [start, start + width] (to the end of the text when width < 0)."""
        cdef int g, j, node, gset
        cdef long hi = start + width if width >= 0 else (<long>1 << 62)
        cdef bint ok
        for g in range(lo, hi_grp):
            gset = grp[g]
            ok = True
            for j in range(self.grp_off[gset], self.grp_off[gset + 1]):
                node = head[self.grp_set[j]]
                while node != UNSEEN:
                    if ostart[node] >= start and oend[node] <= hi:
                        break
                    node = nxt[node]
                if node == UNSEEN:
                    ok = False
                    break
            if ok:
                return True
        return False

    def hits(self, str text, object only, object norm, list budget):
        """The hits of one field (normalised ``text``)."""
        cdef Reports r
        cdef int n, k, j, g, t, w, p, s, e, a, ws, we, nodes = 0
        cdef int *word
        cdef int *starts
        cdef int *ends
        cdef int *head = NULL
        cdef int *nxt
        cdef int *ostart
        cdef int *oend
        cdef list hits = [], spots
        cdef tuple target, pattern
        cdef object entry, run, got, m
        r.n, r.cap, r.data = 0, 0, NULL
        try:
            self.automaton.find(text, &r)
            n = r.n
            if n == 0 and self.nanywhere == 0:
                return hits
            # the reports, by end, longest first, as three arrays
            word = <int *>PyMem_Malloc((3 * n + 1) * sizeof(int))
            if word == NULL:
                raise MemoryError()
            starts, ends = word + n, word + 2 * n
            for k in range(n):
                w = word[k] = r.data[3 * k]
                starts[k], ends[k] = r.data[3 * k + 1], r.data[3 * k + 2]
                nodes += self.set_off[w + 1] - self.set_off[w]
            PyMem_Free(r.data)
            r.data = word
            # where each gate set was seen: a linked list of occurrences per set
            head = <int *>PyMem_Malloc((self.nsets + 4 * nodes + 1) * sizeof(int))
            if head == NULL:
                raise MemoryError()
            nxt, ostart, oend = head + self.nsets, head + self.nsets + nodes, head + self.nsets + 2 * nodes
            for j in range(self.nsets):
                head[j] = UNSEEN
            nodes = 0
            for k in range(n):
                w = word[k]
                for j in range(self.set_off[w], self.set_off[w + 1]):
                    g = self.set_id[j]
                    ostart[nodes], oend[nodes], nxt[nodes] = starts[k], ends[k], head[g]
                    head[g] = nodes
                    nodes += 1
            # phrase hits
            for k in range(n):
                w = word[k]
                for j in range(self.tgt_off[w], self.tgt_off[w + 1]):
                    target = <tuple>self.targets[j]
                    entry = target[0]
                    if only is not None and entry.id not in only:
                        continue
                    if target[2] and not self.latin_bounded(norm, starts[k], ends[k]):
                        continue
                    hits.append(new_hit(starts[k], ends[k], entry, target[1], target[2]))
            # triggered patterns, tried where the rest of a match can be
            for k in range(n):
                w = word[k]
                s = starts[k]
                for j in range(self.trg_off[w], self.trg_off[w + 1]):
                    t = self.trg_try[j]
                    p = self.try_pat[t]
                    if not self.may_match(self.try_grp, self.try_off[t], self.try_off[t + 1], s, self.widths[p],
                                          head, nxt, ostart, oend):
                        continue
                    if only is not None and self.pattern_ids[p] not in only:
                        continue
                    pattern = <tuple>self.patterns[p]
                    run = pattern[1]
                    if pattern[2]:
                        m = run(text, s)
                        if m is None:
                            continue
                        got = m.end()
                    else:
                        got = run(text, s, budget)
                    e = got
                    if e <= s:
                        continue
                    hits.append(new_hit(s, got, pattern[0], text[s:e], ""))
            # anywhere patterns, near the spots of their required literals
            for a in range(self.nanywhere):
                if not self.may_match(self.any_grp, self.any_off[a], self.any_off[a + 1], 0, -1,
                                      head, nxt, ostart, oend):
                    continue
                pattern = <tuple>self.anywhere[a]
                entry = pattern[0]
                spots = None
                if pattern[1]:
                    spots = []
                    for k in range(n):
                        w = word[k]
                        for j in range(self.spot_off[w], self.spot_off[w + 1]):
                            if self.spot_any[j] == a:
                                spots.append((starts[k], ends[k]))
                    if not spots:
                        continue
                if only is not None and entry.id not in only:
                    continue
                for ws, we in self.find_near(entry.regex, text, spots, pattern[2]):
                    hits.append(new_hit(ws, we, entry, text[ws:we], ""))
        finally:
            PyMem_Free(r.data)
            PyMem_Free(head)
        return hits

